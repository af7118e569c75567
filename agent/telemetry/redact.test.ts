import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  it.each([
    ['http://u:secret@host?token=tkn_1', 'http://***@host?token=***'],
    ['https://openway.example.com?token=tkn_xxx', 'https://openway.example.com?token=***'],
    ['https://user@host:9/p?a=1&access_token=x&b=2', 'https://***@host:9/p?a=1&access_token=***&b=2'],
    ['http://h/m?password=p&apiKey=k&X-Amz-Signature=s&session_id=9&format=prometheus', 'http://h/m?password=***&apiKey=***&X-Amz-Signature=***&session_id=***&format=prometheus'],
    ['http://h/v1/traces?api%5Fkey=k', 'http://h/v1/traces?api%5Fkey=***'],
    ['connect ECONNREFUSED to http://a:b@10.0.0.1:80/x?token=t (after 3 tries)', 'connect ECONNREFUSED to http://***@10.0.0.1:80/x?token=*** (after 3 tries)'],
    ['no url here', 'no url here'],
    ['mailto-like a@b and ftp://x:y@z/', 'mailto-like a@b and ftp://***@z/'],
  ])('%s', (input, want) => {
    expect(redactUrl(input)).toBe(want);
  });
});
