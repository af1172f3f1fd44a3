/** The console's one HTML page: an empty shell the script fills. */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IoT gateway console</title>
<link rel="icon" href="data:,">
<style>body{margin:0;background:#0f1420}</style>
</head>
<body>
<div id="app"></div>
<script type="module" src="/console/app.js"></script>
</body>
</html>
`;

/**
 * The page runs only its own script and talks only to its own gateway: no inline script, no
 * framing by other sites. Styles are put in a <style> element by the script, hence
 * 'unsafe-inline' for styles only.
 */
export const CONSOLE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;
