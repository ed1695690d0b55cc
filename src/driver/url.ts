import { LabError } from '../errors.js';

export function parseTargetUrl(raw: string, field = 'url'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LabError('KAL_URL_INVALID', `"${raw}" is not a URL`, {
      problems: [
        { path: field, message: `"${raw}" is not a URL; give one such as http://127.0.0.1:3000/` },
      ],
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LabError('KAL_URL_INVALID', `"${raw}" is not an http(s) URL`, {
      problems: [{ path: field, message: `"${raw}": use http:// or https://` }],
    });
  }
  return url;
}
