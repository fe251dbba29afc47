package runinfo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"image/jpeg"
	"path/filepath"

	"github.com/disintegration/imaging"

	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/internal/atomicfile"
)

// WriteJSON writes the comparison as indented JSON, atomically.
func (c Comparison) WriteJSON(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// thumbnail returns a small JPEG of an image as a data: URL, or "" if it cannot be read.
func thumbnail(path string) template.URL {
	img, err := imaging.Open(path, imaging.AutoOrientation(true))
	if err != nil {
		return ""
	}
	img = imaging.Fit(img, 160, 160, imaging.CatmullRom)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return ""
	}
	return template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   metrics.Percent,
	"thumb": thumbnail,
	"base":  filepath.Base,
	"delta": func(a, b float64) string { return fmt.Sprintf("%+.1f", (b-a)*100) },
	"cls": func(a, b float64) string {
		switch {
		case b > a:
			return "up"
		case b < a:
			return "down"
		}
		return ""
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Captune before/after report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.up{color:#17803d;font-weight:600}.down{color:#b42318;font-weight:600}
img{max-width:160px;max-height:160px}.num{text-align:right;font-variant-numeric:tabular-nums}
.refs{color:#555;font-size:12px}
</style></head><body>
<h1>Before / after fine-tuning</h1>
<p>Split <b>{{.Split}}</b> · decoding {{.Decoding}} · {{len .Images}} images<br>
base model <code>{{.BaseModel}}</code> → fine-tuned <code>{{.Tuned}}</code></p>
<table style="width:auto"><tr><th>metric (×100)</th><th>before</th><th>after</th><th>change</th></tr>
{{range $i, $n := .MetricNames}}<tr><td>{{$n}}</td><td class="num">{{index $.BeforeVals $i | pct}}</td><td class="num">{{index $.AfterVals $i | pct}}</td><td class="num {{cls (index $.BeforeVals $i) (index $.AfterVals $i)}}">{{delta (index $.BeforeVals $i) (index $.AfterVals $i)}}</td></tr>
{{end}}</table>
<h2>Per image (largest CIDEr-D gain first)</h2>
<table><tr><th>image</th><th>references</th><th>base caption</th><th>fine-tuned caption</th><th>CIDEr-D ×100 before → after</th></tr>
{{range .Images}}<tr><td><img src="{{thumb .Image}}" alt="{{base .Image}}"><br>{{base .Image}}</td>
<td class="refs">{{range .References}}{{.}}<br>{{end}}</td><td>{{.Base}}</td><td>{{.Tuned}}</td>
<td class="num {{cls .BaseCIDEr .TunedCIDEr}}">{{pct .BaseCIDEr}} → {{pct .TunedCIDEr}}</td></tr>
{{end}}</table>
<p style="color:#777">Metrics computed as pycocoevalcap does (PTB tokenization, BLEU "closest" length, ROUGE-L β=1.2, CIDEr-D σ=6 with document frequencies from the references), shown ×100 as in papers. Written by Captune.</p>
</body></html>
`))

// WriteHTML writes a self-contained HTML report (thumbnails inlined), atomically.
func (c Comparison) WriteHTML(path string) error {
	data := struct {
		Comparison
		MetricNames           []string
		BeforeVals, AfterVals []float64
	}{Comparison: c, MetricNames: []string{"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D"}}
	for _, s := range []metrics.Scores{c.Before, c.After} {
		v := []float64{s.Bleu[0], s.Bleu[1], s.Bleu[2], s.Bleu[3], s.RougeL, s.CIDErD}
		if data.BeforeVals == nil {
			data.BeforeVals = v
		} else {
			data.AfterVals = v
		}
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}
