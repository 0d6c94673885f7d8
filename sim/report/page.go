package report

import "html/template"

// pageTemplate is the report page. Everything it needs is inline: the
// browser makes no request to open it.
var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"inc": func(n int) int { return n + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; background: #fafafa; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 0 0 2px; }
.runs { list-style: none; padding: 0; margin: 0 0 14px; }
.runs li { margin: 2px 0; }
.chip { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 6px; }
.ok { color: #2e7d32; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
.muted { color: #666; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 14px 16px 8px; margin: 14px 0; }
.note { color: #555; margin: 0 0 4px; }
svg { display: block; width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 12px; fill: #444; }
svg .xt, svg .xl { text-anchor: middle; }
svg .yt { text-anchor: end; font-variant-numeric: tabular-nums; }
svg .yl { text-anchor: middle; }
svg .xl, svg .yl { font-size: 13px; fill: #222; }
svg .lt { fill: #222; }
svg .empty { text-anchor: middle; font-size: 15px; fill: #888; }
svg .grid { stroke: #ececec; }
svg .axis, svg .tick { stroke: #888; }
svg .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg .key { stroke-width: 2.5; }
svg .area { fill-opacity: 0.55; stroke: none; }
svg .bar { fill-opacity: 0.85; }
svg .mark { stroke: #333; stroke-dasharray: 4 3; }
svg .ml { font-size: 11px; fill: #333; }
table { border-collapse: collapse; min-width: 60%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
td.num, th.num { text-align: right; padding: 3px 4px 3px 24px; }
tr.section th { padding-top: 12px; border-bottom: 1px solid #ddd; font-size: 13px; color: #555; }
tr.differs td { background: #fff8e1; }
td.label { color: #444; }
tbody td { border-bottom: 1px solid #f1f1f1; }
td.hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; word-break: break-all; }
pre { white-space: pre-wrap; font-size: 12px; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<ul class="runs">
{{- range .Runs}}
<li><span class="chip" style="background: {{.Color}}"></span><b>{{.Name}}</b> <span class="muted">— scenario {{.R.Scenario}}, seed {{.R.Seed}}{{if .R.File}}, {{.R.File}}{{end}}</span> {{if .OK}}<span class="ok">OK</span>{{else}}<span class="failed">FAILED</span>{{end}}</li>
{{- end}}
</ul>
{{range .Charts}}
<section class="chart">
<h2>{{.Title}}</h2>
<p class="note">{{.Note}}</p>
{{.SVG}}
</section>
{{end}}
<section class="summary">
<h2>Summary</h2>
{{if .Compare}}<p class="note">Rows where the runs differ are highlighted.</p>{{end}}
<table>
<thead><tr><th></th>{{range .Runs}}<th class="num"><span class="chip" style="background: {{.Color}}"></span>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{- range $row := .Table}}
{{- if .Section}}
<tr class="section"><th colspan="{{len $.Runs | inc}}">{{.Section}}</th></tr>
{{- else}}
<tr{{if and $.Compare .Differs}} class="differs"{{end}}><td class="label">{{.Label}}</td>{{range .Cells}}<td class="num{{if $row.Mono}} hash{{end}}">{{.}}</td>{{end}}</tr>
{{- end}}
{{- end}}
</tbody>
</table>
{{range .Runs}}{{if not .OK}}
<h2 class="failed">{{.Name}}: what failed</h2>
<pre>{{range .R.Violations}}invariant: {{.}}
{{end}}{{range .R.Failures}}expectation: {{.}}
{{end}}</pre>
{{end}}{{end}}
</section>
<p class="muted">Written by vmdispatch sim. Times are simulated time since the start of the run; money is in the currency of the instance type prices.</p>
</main>
</body>
</html>
`))
