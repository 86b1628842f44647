/**
 * The operations UI's stylesheet, served as `admin.css` under the admin routes (the CSP allows
 * styles from the same origin only, so none is inline). Light and dark, following the system.
 */
export const ADMIN_STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --accent: #0550ae; --bad: #a40e26; --row: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d; --accent: #79c0ff; --bad: #ff7b72; --row: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1rem 2rem; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
a { color: var(--accent); }
nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
main { padding: 1rem 1.25rem; max-width: 80rem; }
h2 { font-size: 1.3rem; margin: .25rem 0 1rem; }
h2:focus { outline: none; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
caption { text-align: left; color: var(--muted); padding-bottom: .25rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
tbody tr:nth-child(odd) { background: var(--row); }
pre.json { margin: 0; padding: .5rem; max-height: 24rem; overflow: auto; background: var(--row); border: 1px solid var(--line); white-space: pre-wrap; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.notice:empty, .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
.notice { margin: 0; padding: .5rem 1.25rem; }
.notice.error { color: var(--bad); font-weight: 600; }
.pager { display: flex; gap: 1rem; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 6px; background: var(--row); color: var(--fg); cursor: pointer; }
button.danger { border-color: var(--bad); color: var(--bad); }
button:disabled { opacity: .6; cursor: default; }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid var(--muted); border-radius: 4px; background: var(--bg); color: var(--fg); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
`;
