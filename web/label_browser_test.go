package web_test

// Real-browser tests of the labeling page: headless Chromium labels text
// and images with the mouse and the keyboard, reviews, drafts, "next
// task" for two people at once, and a task that tries to run script. What
// the browser did is then read back through the export, which must hold
// Label Studio's result shapes field by field.

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/browsertest"
	"github.com/glossa-dev/glossa/labeling"
)

// template returns one of Label Studio's template configurations.
func template(t *testing.T, name string) string {
	t.Helper()
	tpl := labeling.FindTemplate(name)
	if tpl == nil {
		t.Fatalf("no template %s", name)
	}
	return tpl.Config
}

// labelURL is the labeling page of a task.
func labelURL(ts *TestServer, project, task int64) string {
	return fmt.Sprintf("%s/projects/%d/label/%d", ts.URL, project, task)
}

// exported returns the result items of the annotations of a task, from
// the project's JSON export (Label Studio's format).
func exported(t *testing.T, ts *TestServer, f *fixture, project, task int64) []map[string]any {
	t.Helper()
	resp := ts.As(t, f.owner).Must(t, 200, "GET", fmt.Sprintf("/api/projects/%d/export?exportType=JSON&download_all_tasks=true", project), nil, nil)
	var tasks []struct {
		ID          int64 `json:"id"`
		Annotations []struct {
			WasCancelled bool             `json:"was_cancelled"`
			CompletedBy  any              `json:"completed_by"`
			Result       []map[string]any `json:"result"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(resp.Body, &tasks); err != nil {
		t.Fatalf("export: %v\n%s", err, resp.Body)
	}
	var out []map[string]any
	for _, x := range tasks {
		if x.ID == task {
			for _, a := range x.Annotations {
				out = append(out, a.Result...)
			}
		}
	}
	return out
}

// lsShapes are the keys of Label Studio's result items, by type: of the
// item and of its value. The labeling page writes exactly these.
var lsShapes = map[string]struct{ item, value []string }{
	"choices":         {[]string{"from_name", "id", "origin", "to_name", "type", "value"}, []string{"choices"}},
	"labels":          {[]string{"from_name", "id", "origin", "to_name", "type", "value"}, []string{"end", "labels", "start", "text"}},
	"rectanglelabels": {[]string{"from_name", "id", "image_rotation", "origin", "original_height", "original_width", "to_name", "type", "value"}, []string{"height", "rectanglelabels", "rotation", "width", "x", "y"}},
	"textarea":        {[]string{"from_name", "id", "origin", "to_name", "type", "value"}, []string{"text"}},
	"rating":          {[]string{"from_name", "id", "origin", "to_name", "type", "value"}, []string{"rating"}},
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkShape fails unless item has exactly Label Studio's fields for its
// type, each of the JSON type Label Studio gives it.
func checkShape(t *testing.T, item map[string]any) {
	t.Helper()
	typ, _ := item["type"].(string)
	shape, ok := lsShapes[typ]
	if !ok {
		t.Fatalf("result item of unknown type: %v", item)
	}
	value, _ := item["value"].(map[string]any)
	if !slices.Equal(keys(item), shape.item) || !slices.Equal(keys(value), shape.value) {
		t.Errorf("%s item has fields %v / value %v, want %v / %v: %v", typ, keys(item), keys(value), shape.item, shape.value, item)
	}
	for _, k := range []string{"id", "from_name", "to_name", "origin"} {
		if s, ok := item[k].(string); !ok || s == "" {
			t.Errorf("%s item: %s is %v, want a string", typ, k, item[k])
		}
	}
	numbers := map[string][]string{"labels": {"start", "end"}, "rectanglelabels": {"x", "y", "width", "height", "rotation"}, "rating": {"rating"}}[typ]
	for _, k := range numbers {
		if _, ok := value[k].(float64); !ok {
			t.Errorf("%s value.%s is %v, want a number", typ, k, value[k])
		}
	}
	for _, k := range []string{"original_width", "original_height", "image_rotation"} {
		if _, ok := item[k]; ok {
			if _, isNum := item[k].(float64); !isNum {
				t.Errorf("%s %s is %v, want a number", typ, k, item[k])
			}
		}
	}
	for _, k := range []string{"choices", "labels", "rectanglelabels", "text"} {
		if v, ok := value[k]; ok && !(typ == "labels" && k == "text") {
			list, isList := v.([]any)
			if !isList || len(list) == 0 {
				t.Errorf("%s value.%s is %v, want a list of strings", typ, k, v)
			}
		}
	}
}

// point is a position in the page, in CSS pixels.
type point struct{ X, Y float64 }

// textPoint returns where the browser draws the code point at offset cp
// of a Text object's text: the left edge (plus a pixel) or, with end, the
// right edge (minus one), mid-height.
func textPoint(t *testing.T, ctx context.Context, cp int, end bool) point {
	t.Helper()
	return browsertest.Run(t, ctx, chromedp.Evaluate[point](fmt.Sprintf(`(() => {
		const el = document.querySelector(".lbl-text");
		const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
		let cp = %d, node;
		while ((node = walker.nextNode())) {
			const chars = Array.from(node.data);
			if (cp < chars.length) {
				const start = chars.slice(0, cp).join("").length;
				const r = document.createRange();
				r.setStart(node, start);
				r.setEnd(node, start + chars[cp].length);
				const b = r.getBoundingClientRect();
				return {X: %v ? b.right - 1 : b.left + 1, Y: b.top + b.height / 2};
			}
			cp -= chars.length;
		}
		throw new Error("offset past the text");
	})()`, cp, end)))
}

// drag presses the left button at from, moves to to in steps and
// releases it there, as a hand does.
func drag(from, to point) chromedp.Action[chromedp.Void] {
	held := func(p *input.DispatchMouseEventParams) {
		p.Button = input.MouseButtonLeft
		p.Buttons = 1
		p.ClickCount = 1
	}
	steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MouseMoved, from.X, from.Y), chromedp.MouseEvent(chromedp.MousePressed, from.X, from.Y, held)}
	for i := 1; i <= 8; i++ {
		f := float64(i) / 8
		steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, from.X+(to.X-from.X)*f, from.Y+(to.Y-from.Y)*f, held))
	}
	steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, to.X, to.Y, held))
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for _, s := range steps {
			if _, err := s(ctx, tg); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	}
}

// labelReady waits until label.js runs on the labeling page.
func labelReady() chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`#label-app[data-ready="true"]`))
}

// waitPath waits for the browser to arrive at path (the page after a
// navigation that script started), then for the page to be live.
func waitPath(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A navigation under way interrupts queries; ask again.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		loc, err := chromedp.Run(sctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.pathname : ""`))
		cancel()
		if err == nil && loc == path {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser did not arrive at %s (at %q, %v)", path, loc, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDraftSaved waits until the page says its draft is saved.
func waitDraftSaved(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Poll[chromedp.Void](`document.getElementById("draft-status").textContent === "Draft saved."`, chromedp.WithPollingTimeout(10*time.Second)))
}

// TestBrowserLabelTextClassification: an annotator labels with Label
// Studio's text-classification template, by hotkey and by mouse, going
// from task to task with "next task"; the export reads as Label Studio's.
func TestBrowserLabelTextClassification(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, template(t, "text-classification"), `[{"text": "A great 3D movie."}, {"text": "Not sure."}, {"text": "Dull."}]`)
		ctx := browsertest.New(t)
		defer watchErrors(t, ctx)()
		signInBrowser(t, ctx, ts, f.annotat.Email)

		// "Label tasks" hands out the first task.
		browsertest.Do(t, ctx,
			chromedp.Navigate(fmt.Sprintf("%s/projects/%d", ts.URL, pr.ID)),
			chromedp.Click(chromedp.ID("label-next")),
			labelReady(),
		)
		if loc := browsertest.Run(t, ctx, chromedp.Location()); !strings.HasPrefix(loc, labelURL(ts, pr.ID, ids[0])) {
			t.Fatalf("next task opened %s, want task %d", loc, ids[0])
		}
		if got := browsertest.Run(t, ctx, chromedp.Text(chromedp.CSS(".lbl-text"))); got != "A great 3D movie." {
			t.Errorf("text shown = %q", got)
		}
		browsertest.Screenshot(t, ctx, "classification")
		// Positive by its hotkey (Label Studio numbers the choices), then
		// Ctrl+Enter submits and the next task opens.
		browsertest.Do(t, ctx,
			chromedp.KeyEvent("1"),
			chromedp.Poll[chromedp.Void](`document.querySelector('input[value="Positive"]').checked`, chromedp.WithPollingTimeout(5*time.Second)),
			chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		)
		// The second is skipped.
		waitPath(t, ctx, fmt.Sprintf("/projects/%d/label/%d", pr.ID, ids[1]))
		browsertest.Do(t, ctx, labelReady(), chromedp.Click(chromedp.ID("skip")))
		waitPath(t, ctx, fmt.Sprintf("/projects/%d/label/%d", pr.ID, ids[2]))
		browsertest.Do(t, ctx,
			labelReady(),
			// Negative with the mouse, and Submit.
			chromedp.Click(chromedp.CSS(`input[value="Negative"]`)),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("all-done")),
		)
		skips, err := ts.DB.FindAnnotations(context.Background(), f.org.ID, ids[1])
		if err != nil || len(skips) != 1 || !skips[0].WasCancelled || string(skips[0].Result) != "[]" {
			t.Fatalf("the skipped task's annotations: %+v, %v", skips, err)
		}
		for i, want := range map[int]string{0: "Positive", 2: "Negative"} {
			items := exported(t, ts, f, pr.ID, ids[i])
			if len(items) != 1 {
				t.Fatalf("task %d: %d result items, want 1: %v", ids[i], len(items), items)
			}
			checkShape(t, items[0])
			if it := items[0]; it["from_name"] != "sentiment" || it["to_name"] != "text" || it["type"] != "choices" ||
				fmt.Sprint(it["value"].(map[string]any)["choices"]) != "["+want+"]" {
				t.Errorf("task %d: result %v, want sentiment = %s", ids[i], it, want)
			}
		}
	})
}

// TestBrowserLabelNamedEntities: spans labelled with the mouse (label
// first, or selection first and then a hotkey) and with the keyboard
// alone, after an emoji, with Label Studio's named-entity template; the
// offsets are Unicode code points, as Label Studio counts them.
func TestBrowserLabelNamedEntities(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	const text = "Ada Lovelace met 🐱 Charles Babbage in London."
	data, _ := json.Marshal([]map[string]string{{"ner": text}})
	pr, ids := labelProject(t, ts, f, template(t, "named-entity-recognition"), string(data))
	ctx := browsertest.New(t)
	defer watchErrors(t, ctx)()
	signInBrowser(t, ctx, ts, f.annotat.Email)
	browsertest.Do(t, ctx,
		chromedp.Navigate(labelURL(ts, pr.ID, ids[0])),
		labelReady(),
	)

	// The label first, then the mouse: "Charles Babbage" (code points
	// 19 to 34; UTF-16 units 20 to 35, after the emoji).
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`.lbl-label[data-value="PER"]`)))
	browsertest.Do(t, ctx, drag(textPoint(t, ctx, 19, false), textPoint(t, ctx, 33, true)),
		chromedp.WaitVisible(chromedp.CSS(".lbl-span")))
	// The selection first, then a hotkey: "Ada Lovelace" as ORG ("2").
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`.lbl-label[data-value="PER"]`))) // PER off again
	browsertest.Do(t, ctx, drag(textPoint(t, ctx, 0, false), textPoint(t, ctx, 11, true)),
		chromedp.KeyEvent("2"))
	// The keyboard alone: into the text, to "London", Shift to select,
	// "3" for LOC.
	steps := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS(".lbl-text"))}
	for range 38 {
		steps = append(steps, chromedp.KeyEvent(kb.ArrowRight))
	}
	for range 6 {
		steps = append(steps, chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	steps = append(steps, chromedp.KeyEvent("3"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#regions li").length === 3`, chromedp.WithPollingTimeout(5*time.Second)))
	browsertest.Do(t, ctx, steps...)
	browsertest.Screenshot(t, ctx, "ner")
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("notice")))

	items := exported(t, ts, f, pr.ID, ids[0])
	type span struct {
		Start, End  int
		Text, Label string
	}
	var got []span
	for _, it := range items {
		checkShape(t, it)
		if it["from_name"] != "label" || it["to_name"] != "text" || it["type"] != "labels" {
			t.Errorf("span item %v", it)
		}
		v := it["value"].(map[string]any)
		got = append(got, span{int(v["start"].(float64)), int(v["end"].(float64)), v["text"].(string), fmt.Sprint(v["labels"])})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Start < got[j].Start })
	want := []span{{0, 12, "Ada Lovelace", "[ORG]"}, {19, 34, "Charles Babbage", "[PER]"}, {38, 44, "London", "[LOC]"}}
	if !slices.Equal(got, want) {
		t.Fatalf("spans = %+v, want %+v", got, want)
	}
}

// pngServer serves a 400×300 PNG at /cat.png from its own origin, as an
// image URL in task data is.
func pngServer(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			img.Set(x, y, color.RGBA{uint8(x / 2), uint8(y), 160, 255})
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		png.Encode(w, img)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/cat.png"
}

// TestBrowserLabelImageBoxes: with Label Studio's bounding-box template, a
// box is drawn, resized by a corner and moved, and stored in percent of
// the image with its size in pixels.
func TestBrowserLabelImageBoxes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		data, _ := json.Marshal([]map[string]string{{"image": pngServer(t)}})
		pr, ids := labelProject(t, ts, f, template(t, "object-detection-with-bounding-boxes"), string(data))
		ctx := browsertest.New(t)
		defer watchErrors(t, ctx)()
		signInBrowser(t, ctx, ts, f.annotat.Email)
		browsertest.Do(t, ctx,
			chromedp.Navigate(labelURL(ts, pr.ID, ids[0])),
			labelReady(),
			chromedp.Poll[chromedp.Void](`document.querySelector(".lbl-img").naturalWidth === 400`, chromedp.WithPollingTimeout(10*time.Second)),
		)
		type box struct{ Left, Top, Width, Height float64 }
		b := browsertest.Run(t, ctx, chromedp.Evaluate[box](`(() => { const r = document.querySelector(".lbl-svg").getBoundingClientRect(); return {Left: r.left, Top: r.top, Width: r.width, Height: r.height}; })()`))
		at := func(px, py float64) point { return point{b.Left + b.Width*px/100, b.Top + b.Height*py/100} }

		// Airplane by its hotkey, then draw from (10%, 10%) to (50%, 40%).
		browsertest.Do(t, ctx, chromedp.KeyEvent("1"), drag(at(10, 10), at(50, 40)),
			chromedp.WaitVisible(chromedp.CSS(".lbl-handle.se")))
		// Resize by the bottom-right corner to (60%, 60%), then move the
		// box 5% right and down.
		browsertest.Do(t, ctx, drag(at(50, 40), at(60, 60)), drag(at(30, 30), at(35, 35)))
		browsertest.Screenshot(t, ctx, "boxes")
		browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("notice")))

		items := exported(t, ts, f, pr.ID, ids[0])
		if len(items) != 1 {
			t.Fatalf("%d result items, want one box: %v", len(items), items)
		}
		it := items[0]
		checkShape(t, it)
		v := it["value"].(map[string]any)
		if it["from_name"] != "label" || it["to_name"] != "image" || it["type"] != "rectanglelabels" ||
			it["original_width"] != 400.0 || it["original_height"] != 300.0 || it["image_rotation"] != 0.0 ||
			fmt.Sprint(v["rectanglelabels"]) != "[Airplane]" || v["rotation"] != 0.0 {
			t.Errorf("box item = %v", it)
		}
		for k, want := range map[string]float64{"x": 15, "y": 15, "width": 50, "height": 50} {
			if got := v[k].(float64); math.Abs(got-want) > 0.75 {
				t.Errorf("value.%s = %v, want %v ± 0.75 (the box was drawn, resized and moved)", k, got, want)
			}
		}
	})
}

// TestBrowserReview: a reviewer rejects an annotation with a comment, the
// annotator sees the verdict and corrects the annotation, the reviewer
// accepts it; the data manager filters by the verdict.
func TestBrowserReview(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme") // the annotator labelled the first task Positive
		reviewer, annotator := browsertest.New(t), browsertest.New(t)
		signInBrowser(t, reviewer, ts, f.reviewer.Email)
		signInBrowser(t, annotator, ts, f.annotat.Email)
		project := fmt.Sprintf("%s/projects/%d", ts.URL, f.project.ID)

		// The reviewer's data manager lists the task with annotations.
		browsertest.Do(t, reviewer,
			chromedp.Navigate(project),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#task-%d a`, f.task.ID))),
			labelReady(),
			chromedp.WaitVisible(chromedp.ID("review-panel")),
			chromedp.SendKeys(chromedp.ID("review-comment"), "The text is neutral, not positive."),
			chromedp.Click(chromedp.ID("reject")),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		if got := browsertest.Run(t, reviewer, chromedp.Text(chromedp.ID("review-state"))); got != "Rejected" {
			t.Errorf("after rejecting, the state shows %q", got)
		}
		// The annotator sees the verdict and its reason, and corrects.
		browsertest.Do(t, annotator, chromedp.Navigate(labelURL(ts, f.project.ID, f.task.ID)), labelReady(), chromedp.WaitVisible(chromedp.ID("verdicts")))
		if got := browsertest.Run(t, annotator, chromedp.Text(chromedp.ID("verdicts"))); !strings.Contains(got, "Rejected by "+f.reviewer.Email) ||
			!strings.Contains(got, "The text is neutral, not positive.") {
			t.Errorf("the annotator sees %q", got)
		}
		browsertest.Screenshot(t, annotator, "rejected")
		browsertest.Do(t, annotator,
			chromedp.Click(chromedp.CSS(`input[value="Negative"]`)),
			chromedp.Click(chromedp.ID("update")),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		// The reviewer accepts the correction.
		browsertest.Do(t, reviewer,
			chromedp.Navigate(labelURL(ts, f.project.ID, f.task.ID)),
			labelReady(),
			chromedp.Click(chromedp.ID("accept")),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		if got := browsertest.Run(t, reviewer, chromedp.Text(chromedp.ID("review-state"))); got != "Accepted" {
			t.Errorf("after accepting, the state shows %q", got)
		}
		if items := exported(t, ts, f, f.project.ID, f.task.ID); len(items) != 1 || fmt.Sprint(items[0]["value"]) != "map[choices:[Negative]]" {
			t.Errorf("exported = %v", items)
		}
		// Filterable: accepted lists the task, rejected does not.
		browsertest.Do(t, reviewer, chromedp.Navigate(project+"?review=accepted"), chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("task-%d", f.task.ID))))
		browsertest.Do(t, reviewer, chromedp.Navigate(project+"?review=rejected"), chromedp.WaitVisible(chromedp.ID("dm-filters")))
		if n := browsertest.Run(t, reviewer, chromedp.Evaluate[int](`document.querySelectorAll("#tasks tbody tr").length`)); n != 0 {
			t.Errorf("rejected lists %d tasks", n)
		}
	})
}

// TestBrowserDraftSurvivesReload: work is saved as a draft as it is done
// and is there again after a reload; submitting ends the draft.
func TestBrowserDraftSurvivesReload(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, ids := labelProject(t, ts, f, nerConfig, `[{"text": "Grace Hopper wrote COBOL."}]`)
		ctx := browsertest.New(t)
		defer watchErrors(t, ctx)()
		signInBrowser(t, ctx, ts, f.annotat.Email)
		browsertest.Do(t, ctx,
			chromedp.Navigate(labelURL(ts, pr.ID, ids[0])),
			labelReady(),
			chromedp.Click(chromedp.CSS(`.lbl-label[data-value="PER"]`)),
		)
		browsertest.Do(t, ctx, drag(textPoint(t, ctx, 0, false), textPoint(t, ctx, 11, true)),
			chromedp.Click(chromedp.CSS(`input[value="Positive"]`)),
			chromedp.Click(chromedp.CSS(`input[name="rating-stars"][value="4"]`)),
		)
		waitDraftSaved(t, ctx)
		browsertest.Do(t, ctx, chromedp.Reload(), labelReady(), chromedp.WaitVisible(chromedp.ID("draft-restored")),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll(".lbl-span").length === 1`, chromedp.WithPollingTimeout(5*time.Second)))
		restored := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[
			document.querySelector(".lbl-span").textContent,
			String(document.querySelector('input[value="Positive"]').checked),
			String(document.querySelector('input[name="rating-stars"][value="4"]').checked)]`))
		if !slices.Equal(restored, []string{"Grace Hopper", "true", "true"}) {
			t.Fatalf("after the reload the page shows %v", restored)
		}
		browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("notice")))
		if _, err := ts.DB.FindDraft(context.Background(), f.org.ID, ids[0], f.annotat.ID); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("the draft after submitting: %v", err)
		}
		items := exported(t, ts, f, pr.ID, ids[0])
		if len(items) != 3 {
			t.Fatalf("exported %v", items)
		}
		for _, it := range items {
			checkShape(t, it)
		}
	})
}

// TestBrowserNextTaskTwoAtOnce: two annotators who ask for "next task" at
// the same moment are handed different tasks.
func TestBrowserNextTaskTwoAtOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		pr, _ := labelProject(t, ts, f, template(t, "text-classification"), `[{"text": "one"}, {"text": "two"}, {"text": "three"}]`)
		second := ts.MustMember(t, f.org.ID, "second@acme.example", glossa.RoleAnnotator)
		ts.As(t, f.owner).Must(t, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", f.workspace.ID), map[string]any{"user": second.ID}, nil)
		browsers := []context.Context{browsertest.New(t), browsertest.New(t)}
		signInBrowser(t, browsers[0], ts, f.annotat.Email)
		signInBrowser(t, browsers[1], ts, second.Email)

		next := fmt.Sprintf("%s/projects/%d/label", ts.URL, pr.ID)
		taskOf := regexp.MustCompile(`/label/(\d+)\?stream=1$`)
		start := make(chan struct{})
		var wg sync.WaitGroup
		got := make([]string, 2)
		errs := make([]error, 2)
		for i, ctx := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				if errs[i] = chromedp.Do(sctx, chromedp.Navigate(next), labelReady()); errs[i] == nil {
					got[i], errs[i] = chromedp.Run(sctx, chromedp.Location())
				}
			}()
		}
		close(start)
		wg.Wait()
		var tasks []int64
		for i := range got {
			m := taskOf.FindStringSubmatch(got[i])
			if errs[i] != nil || m == nil {
				t.Fatalf("browser %d: %v at %q", i, errs[i], got[i])
			}
			id, _ := strconv.ParseInt(m[1], 10, 64)
			tasks = append(tasks, id)
		}
		if tasks[0] == tasks[1] {
			t.Fatalf("both annotators were handed task %d", tasks[0])
		}
	})
}

// TestBrowserTaskDataRunsNothing: a task whose data holds script elements,
// event handlers and javascript: URLs, in a Text, a HyperText and an
// Image, runs none of it on the labeling page, the data manager or the
// task page, and opens no dialog.
func TestBrowserTaskDataRunsNothing(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	payload := `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1;alert(1)"><svg onload="window.__pwned=1"></svg>`
	data, _ := json.Marshal([]map[string]string{{
		"text":  payload + ` and more text`,
		"html":  payload + `<a id="evil" href="javascript:window.__pwned=1">click me</a><iframe src="javascript:window.__pwned=1"></iframe><p onclick="window.__pwned=1" style="x:expression(1)">para</p><a href="  jav&#x09;ascript:window.__pwned=1">two</a>`,
		"image": `javascript:window.__pwned=1`,
	}})
	config := `<View><Text name="text" value="$text"/><HyperText name="html" value="$html"/><Image name="image" value="$image"/>
<Labels name="label" toName="text"><Label value="PER"/></Labels>
<Choices name="c" toName="text"><Choice value="&quot;&gt;&lt;img src=x onerror=window.__pwned=1&gt;"/></Choices></View>`
	pr, ids := labelProject(t, ts, f, config, string(data))
	ctx := browsertest.New(t)
	var mu sync.Mutex
	var dialogs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			dialogs = append(dialogs, d.Message)
			mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}); err != nil {
		t.Fatal(err)
	}
	signInBrowser(t, ctx, ts, f.annotat.Email)
	pages := []string{labelURL(ts, pr.ID, ids[0]), fmt.Sprintf("%s/projects/%d/tasks/%d", ts.URL, pr.ID, ids[0])}
	for _, u := range pages {
		browsertest.Do(t, ctx, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("footer")))
		if strings.Contains(u, "/label/") {
			browsertest.Do(t, ctx, labelReady())
			// Click what looks clickable, and label the script's text, which
			// the regions list then shows.
			browsertest.Do(t, ctx,
				chromedp.Click(chromedp.CSS(".lbl-html a")),
				chromedp.Click(chromedp.CSS(".lbl-html p")),
				chromedp.Click(chromedp.CSS(`.lbl-label[data-value="PER"]`)))
			browsertest.Do(t, ctx, drag(textPoint(t, ctx, 0, false), textPoint(t, ctx, 30, true)),
				chromedp.WaitVisible(chromedp.CSS("#regions li")))
			state := browsertest.Run(t, ctx, chromedp.Evaluate[[]int](`[
				document.querySelectorAll("[onerror], [onload], [onclick], .lbl-html [style], iframe, script:not([src]):not([type='application/json']), .lbl-choices img").length,
				document.querySelectorAll(".lbl-html a[href], .lbl-image img").length]`))
			if !slices.Equal(state, []int{0, 0}) {
				t.Errorf("the page holds %d elements with handlers or scripts and %d script links or images", state[0], state[1])
			}
		}
		browsertest.Do(t, ctx, chromedp.Sleep(300*time.Millisecond))
		if got := browsertest.Run(t, ctx, chromedp.Evaluate[string](`typeof window.__pwned`)); got != "undefined" {
			t.Errorf("%s: window.__pwned is %s: the task's data ran", u, got)
		}
	}
	// The data manager shows the data as text.
	ownerCtx := browsertest.New(t)
	signInBrowser(t, ownerCtx, ts, f.owner.Email)
	browsertest.Do(t, ownerCtx, chromedp.Navigate(fmt.Sprintf("%s/projects/%d", ts.URL, pr.ID)), chromedp.WaitVisible(chromedp.ID("tasks")),
		chromedp.Sleep(300*time.Millisecond))
	if got := browsertest.Run(t, ownerCtx, chromedp.Evaluate[string](`typeof window.__pwned`)); got != "undefined" {
		t.Errorf("data manager: window.__pwned is %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialogs) > 0 {
		t.Errorf("dialogs opened: %q", dialogs)
	}
}

// watchErrors records the page's uncaught JavaScript exceptions; the
// returned function fails the test if there were any.
func watchErrors(t *testing.T, ctx context.Context) func() {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			mu.Lock()
			errs = append(errs, e.ExceptionDetails.Text+" "+describeException(e.ExceptionDetails))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			t.Errorf("JavaScript errors: %q", errs)
		}
	}
}

// TestBrowserLabelEveryControl: a configuration with a per-region text
// area, aliases, single-radio choices, a required text area, a rating and
// a control this page cannot answer (spans on HTML): an annotation made
// through the API is updated in the browser, and what the page cannot
// edit comes back unchanged.
func TestBrowserLabelEveryControl(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	config := `<View>
  <Text name="review" value="$review"/>
  <Labels name="entities" toName="review" choice="multiple"><Label value="Person" alias="PER" hotkey="p"/><Label value="Place"/></Labels>
  <TextArea name="note" toName="review" perRegion="true"/>
  <Choices name="sentiment" toName="review" choice="single-radio" required="true"><Choice value="Positive"/><Choice value="Negative"/></Choices>
  <TextArea name="summary" toName="review" required="true"/>
  <Rating name="stars" toName="review" maxRating="10"/>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="html_entities" toName="page"><Label value="Brand"/></HyperTextLabels>
</View>`
	pr, ids := labelProject(t, ts, f, config, `[{"review": "Alan lives in Wilmslow.", "html": "<p>Acme rocks</p>"}]`)
	brand := map[string]any{"id": "h1", "from_name": "html_entities", "to_name": "page", "type": "hypertextlabels",
		"value": map[string]any{"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 0, "endOffset": 4, "text": "Acme", "hypertextlabels": []string{"Brand"}}}
	ts.As(t, f.annotat).Must(t, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", ids[0]), map[string]any{"result": []any{brand,
		map[string]any{"id": "c1", "from_name": "sentiment", "to_name": "review", "type": "choices", "value": map[string]any{"choices": []string{"Positive"}}},
		map[string]any{"id": "t1", "from_name": "summary", "to_name": "review", "type": "textarea", "value": map[string]any{"text": []string{"Fine."}}},
	}}, nil)

	ctx := browsertest.New(t)
	check := watchErrors(t, ctx)
	signInBrowser(t, ctx, ts, f.annotat.Email)
	browsertest.Do(t, ctx, chromedp.Navigate(labelURL(ts, pr.ID, ids[0])), labelReady())
	if got := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](`[String(document.querySelector('input[value="Positive"]').checked), document.querySelector('.lbl-control[data-control="summary"] textarea').value]`)); !slices.Equal(got, []string{"true", "Fine."}) {
		t.Fatalf("the annotation loaded as %v", got)
	}
	// "Alan" by the keyboard and the Person label's key; then its note.
	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS(".lbl-text")), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowLeft))
	for range 4 {
		browsertest.Do(t, ctx, chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	browsertest.Do(t, ctx, chromedp.KeyEvent("p"), chromedp.WaitVisible(chromedp.CSS(".lbl-span")))
	browsertest.Do(t, ctx,
		chromedp.Click(chromedp.CSS(".lbl-span")),
		chromedp.WaitEnabled(chromedp.CSS(`.lbl-control[data-control="note"] textarea`)),
		chromedp.SendKeys(chromedp.CSS(`.lbl-control[data-control="note"] textarea`), "the mathematician"),
		chromedp.Click(chromedp.CSS(`input[name="rating-stars"][value="7"]`)),
		chromedp.Click(chromedp.ID("update")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	check()

	byFrom := map[string]map[string]any{}
	for _, it := range exported(t, ts, f, pr.ID, ids[0]) {
		byFrom[it["from_name"].(string)] = it
		// A per-region answer carries its region's place, as in Label
		// Studio; the HTML span is Label Studio's own, kept as it was.
		if it["type"] != "hypertextlabels" && it["from_name"] != "note" {
			checkShape(t, it)
		}
	}
	if got := byFrom["html_entities"]; fmt.Sprint(got) != fmt.Sprint(brand) {
		t.Errorf("the HTML span came back as %v, want it unchanged: %v", got, brand)
	}
	span, note := byFrom["entities"], byFrom["note"]
	if span == nil || note == nil || span["id"] != note["id"] {
		t.Fatalf("span %v and its note %v, want the same id", span, note)
	}
	if v := span["value"].(map[string]any); fmt.Sprint(v["labels"]) != "[PER]" || v["text"] != "Alan" || v["start"] != 0.0 || v["end"] != 4.0 {
		t.Errorf("span value %v, want Alan as PER (the alias)", v)
	}
	if v := note["value"].(map[string]any); !slices.Equal(keys(v), []string{"end", "start", "text"}) || fmt.Sprint(v["text"]) != "[the mathematician]" || v["start"] != 0.0 {
		t.Errorf("note value %v", v)
	}
	if v := byFrom["stars"]["value"].(map[string]any); v["rating"] != 7.0 {
		t.Errorf("rating %v", v)
	}
	if byFrom["sentiment"] == nil || byFrom["summary"] == nil {
		t.Errorf("the answers made before are gone: %v", byFrom)
	}
}

func describeException(d *cdpruntime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return fmt.Sprintf("at %d:%d", d.LineNumber, d.ColumnNumber)
}
