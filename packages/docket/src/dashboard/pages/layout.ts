import { type Html, html } from "../html.js";

/** Where a page is and what it may show, handed to every page renderer. */
export interface PageContext {
  /** A link to a dashboard path (`/jobs`), relative to the current page. */
  link(path: string): string;
  /** Whether actions are hidden (read-only access). */
  readOnly: boolean;
  /** A one-line message after an action (from the `flash` query parameter). */
  flash: string | undefined;
}

const sections = [
  { path: "/", label: "Queues" },
  { path: "/jobs", label: "Jobs" },
  { path: "/cron", label: "Cron" },
  { path: "/nodes", label: "Nodes" },
] as const;

/** The frame of every page: head with the stylesheet and script, navigation, flash message. */
export function layout(
  context: PageContext,
  page: { title: string; section: string; body: Html },
): Html {
  const nav = sections.map(
    (s) =>
      html`<a href="${context.link(s.path)}"${s.path === page.section ? html` aria-current="page"` : ""}>${s.label}</a>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · docket</title>
<link rel="stylesheet" href="${context.link("/assets/dashboard.css")}">
<script src="${context.link("/assets/dashboard.js")}" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="${context.link("/")}">docket</a>
<nav>${nav}</nav>
${context.readOnly ? html`<span class="badge">read-only</span>` : ""}
</header>
<main>
${context.flash ? html`<p class="flash" role="status">${context.flash}</p>` : ""}
<h1>${page.title}</h1>
${page.body}
</main>
</body>
</html>`;
}
