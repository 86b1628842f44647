/**
 * The operations UI's HTML: a static shell (no server data in it, so nothing to escape) that loads
 * admin.css and admin.js from the same path; the script fills `main` from the JSON API.
 */
export const ADMIN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EventFlows operations</title>
<link rel="stylesheet" href="admin.css">
<script src="admin.js" defer></script>
</head>
<body>
<header>
<h1>EventFlows operations</h1>
<nav aria-label="Sections"><ul>
<li><a href="#/feed">Global feed</a></li>
<li><a href="#/streams">Streams</a></li>
<li><a href="#/projections">Projections</a></li>
<li><a href="#/sagas">Sagas</a></li>
</ul></nav>
</header>
<p id="notice" class="notice" role="alert"></p>
<p id="live-status" class="visually-hidden" aria-live="polite"></p>
<main id="main"><p>Loading…</p><noscript>This page needs JavaScript.</noscript></main>
</body>
</html>
`;
