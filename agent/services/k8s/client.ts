/**
 * The values of @kubernetes/client-node the agent uses, in one module.
 *
 * `npm run build` replaces the compiled file with a bundle of only these
 * (scripts/bundle-k8s.mjs). The package's index loads every generated API and
 * model: importing it costs ~83 MB of RSS and ~370 ms on every node, the bundle
 * ~20 MB and ~85 ms. Types are imported from the package itself (`import type`),
 * which costs nothing at run time. Tests run the sources, so they use the
 * package; test/e2e/k8s-bundle.test.ts runs the built bundle.
 */
export { AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, ListWatch, V1MicroTime, Watch } from '@kubernetes/client-node';
