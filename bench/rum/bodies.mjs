// bench/rum's request bodies: batches shaped like the browser SDK's (its measurements
// and tags, cut near its 16 KiB batch limit). Shared by run.mjs and fastpath.mjs.
// SDK-shaped batches: the measurements and tag/field sets dataflux-rum.js writes (sdk, app, session, view, browser, device tags).
export function body(seed, POINTS_PER_BODY) {
  const t = Date.now();
  const common = `sdk_name=df_web_rum_sdk,sdk_version=3.2.27,app_id=shop_web,env=prod,version=1.4.2,service=shop-web,source=browser,session_id=${seed}-s,session_type=user,view_id=${seed}-v,view_url=https://shop.example.com/cart,view_host=shop.example.com,view_path=/cart,view_path_group=/cart,view_url_query={},browser=Chrome,browser_version=120.0.0.0,browser_version_major=120,os=Linux,os_version=x86_64,os_version_major=x86_64,device=PC,userAgent=Mozilla/5.0\\ (X11;\\ Linux\\ x86_64),screen_size=1920*1080,network_type=4g,is_signin=F`;
  const lines = [];
  for (let i = 0; i < POINTS_PER_BODY; i++) {
    const k = i % 10;
    if (k < 4) lines.push(`resource,${common},resource_url=https://api.example.com/cart/${i},resource_url_host=api.example.com,resource_url_path=/cart/${i},resource_type=fetch,resource_method=GET,resource_status=200,resource_status_group=2xx,trace_id=${seed}${i},span_id=${i} resource_size=1234,resource_dns=0,resource_tcp=0,resource_ssl=0,resource_ttfb=12.3,resource_trans=1.2,resource_first_byte=13.1,duration=17.4 ${t + i}`);
    else if (k < 6) lines.push(`action,${common},action_id=${seed}-a${i},action_name=Pay,action_type=click duration=12,action_long_task_count=0,action_resource_count=1,action_error_count=0 ${t + i}`);
    else if (k < 8) lines.push(`view,${common},view_loading_type=initial_load,view_apdex_level=1 loading_time=1234,first_contentful_paint=321,largest_contentful_paint=654,cumulative_layout_shift=0.01,dom_interactive=400,dom_complete=900,load_event=950,view_error_count=1,view_resource_count=12,view_action_count=3,view_long_task_count=0,time_spent=5000,is_active=true ${t + i}`);
    else if (k === 8) lines.push(`long_task,${common},long_task_id=${seed}-l${i} duration=73 ${t + i}`);
    else lines.push(`error,${common},error_source=source,error_type=TypeError,error_handling=unhandled error_message="Cannot read properties of undefined (reading 'id')",error_stack="TypeError: Cannot read properties of undefined\n  at render @ https://shop.example.com/static/js/app.min.js:1:2345\n  at go @ https://shop.example.com/static/js/app.min.js:1:999" ${t + i}`);
  }
  return Buffer.from(lines.join('\n'));
}
