package labeling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

// boxTolerance is how far, in percent of the image, a box may pass an edge:
// enough for the float rounding of coordinates computed from pixels, far too
// little to hide a real overflow.
const boxTolerance = 1e-4

// resultEntry is a result item as ValidateResult reads it. Fields it does
// not check (origin, readonly, hidden, score, image_rotation, meta, ...)
// are allowed and ignored.
type resultEntry struct {
	ID             json.RawMessage            `json:"id"`
	FromName       string                     `json:"from_name"`
	ToName         string                     `json:"to_name"`
	Type           string                     `json:"type"`
	Value          map[string]json.RawMessage `json:"value"`
	OriginalWidth  *float64                   `json:"original_width"`
	OriginalHeight *float64                   `json:"original_height"`
}

// id returns the item's id as text ("" when absent): Label Studio's ids are
// strings, but a number is accepted as written.
func (e *resultEntry) id() string {
	var s string
	if json.Unmarshal(e.ID, &s) == nil {
		return s
	}
	if len(e.ID) > 0 && e.ID[0] != '{' && e.ID[0] != '[' && string(e.ID) != "null" {
		return string(e.ID)
	}
	return ""
}

// isRegion reports whether a control draws regions (spans, boxes) that
// per-region controls attach to.
func isRegion(c *Control) bool {
	switch c.Tag {
	case "Labels", "HyperTextLabels", "RectangleLabels":
		return true
	}
	return false
}

// ValidateResult checks an annotation's (or a prediction's) result, Label
// Studio's JSON list of result items, against the configuration:
//
//   - from_name names a control, to_name is that control's toName and type
//     is its result type ("choices", "labels", "rectanglelabels", ...);
//   - choices and labels exist in the control, a single-choice control has
//     one, a control that answers for the task answers at most once, a
//     per-region answer's id names a region of the result;
//   - text spans have whole-number start < end within the text, and their
//     text, when given, is the text at that place; HyperText spans have
//     their XPath ends and offsets;
//   - boxes lie inside the image (x, y, width, height in percent);
//   - textarea answers are lists of strings, ratings whole numbers from 1
//     to maxRating;
//   - every required control is answered, unless it is per-region or
//     shown only under a visibleWhen condition.
//
// An empty result, [], is valid when no control is required: Label Studio
// lets annotators submit nothing unless a control says otherwise. A
// cancelled (skipped) annotation should not be checked at all.
//
// Span offsets count Unicode code points, not JavaScript's UTF-16 units:
// Label Studio's editor switched to code points (label-studio PR #1559,
// label-studio-frontend PR #308) so that text[start:end] in Python is the
// span, and its NER emoji tests pin it (web/libs/editor/tests/integration/
// data/ner/emoji.ts: "test" after "🐱 Warning: This is a " is 21..25). When
// data (the task's data object) is empty, checks that need the text are
// skipped.
//
// Problems are reported all at once, each naming its result index, in a
// *glossa.Error with code EINVALID.
func (c *Config) ValidateResult(result, data json.RawMessage) error {
	if err := checkResultShape(result); err != nil {
		return err
	}
	taskData, err := decodeTaskData(data)
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	_ = json.Unmarshal(result, &raws) // ValidateResult made sure it is a list
	v := resultValidator{cfg: c, data: taskData, regions: map[string]string{}}
	entries := make([]*resultEntry, len(raws))
	for i, raw := range raws {
		var e resultEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			v.problem(i, "%s", entryError(err))
			continue
		}
		entries[i] = &e
		// Per-region answers may come before their region; collect the
		// regions first.
		if ctl := c.Control(e.FromName); ctl != nil && isRegion(ctl) {
			if id := e.id(); id != "" {
				v.regions[id] = e.ToName
			}
		}
	}
	answered := map[string]int{} // control or control+region -> first index
	for i, e := range entries {
		if e == nil {
			continue
		}
		ctl := v.entry(i, e)
		if ctl == nil || isRegion(ctl) {
			continue
		}
		key := ctl.Name
		if ctl.PerRegion {
			key += "\x00" + e.id()
		}
		if first, ok := answered[key]; ok {
			per := "task"
			if ctl.PerRegion {
				per = "region"
			}
			v.problem(i, "control %s is already answered by result[%d]; a <%s> answers once per %s", quote(ctl.Name), first, ctl.Tag, per)
			continue
		}
		answered[key] = i
	}
	for _, ctl := range c.Controls {
		if !ctl.Required || ctl.PerRegion || ctl.Conditional {
			continue
		}
		if !mentions(entries, ctl.Name) {
			v.problems = append(v.problems, resultProblem{len(raws), fmt.Sprintf("the required control %s (<%s>) has no answer", quote(ctl.Name), ctl.Tag)})
		}
	}
	if len(v.problems) == 0 {
		return nil
	}
	// Decoding problems were found in a first pass; show all in order.
	slices.SortStableFunc(v.problems, func(a, b resultProblem) int { return a.index - b.index })
	lines := make([]string, len(v.problems))
	for i, p := range v.problems {
		lines[i] = p.message
	}
	return glossa.Errorf(glossa.EINVALID, "%s", joinProblems("result", lines))
}

// decodeTaskData reads the task's data object; empty means not given.
func decodeTaskData(data json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &m) != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "The task data must be a JSON object.")
	}
	return m, nil
}

type resultValidator struct {
	cfg      *Config
	data     map[string]json.RawMessage // nil when not given
	regions  map[string]string          // region id -> to_name
	problems []resultProblem
}

// resultProblem is one problem with a result; index is the item's, or the
// number of items for a problem with the whole result.
type resultProblem struct {
	index   int
	message string
}

func (v *resultValidator) problem(i int, format string, args ...any) {
	v.problems = append(v.problems, resultProblem{i, fmt.Sprintf("result[%d]: ", i) + fmt.Sprintf(format, args...)})
}

// mentions reports whether any item comes from the control named name. An
// item that is wrong in other ways still counts, so that one mistake is not
// reported twice.
func mentions(entries []*resultEntry, name string) bool {
	for _, e := range entries {
		if e != nil && e.FromName == name {
			return true
		}
	}
	return false
}

// entryError explains why an item could not be read, without internal text.
func entryError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field + " has the wrong JSON type (" + typeErr.Value + ")"
	}
	return "it is not a Label Studio result item"
}

// entry checks one item and returns its control, or nil when the item does
// not belong to one.
func (v *resultValidator) entry(i int, e *resultEntry) *Control {
	if e.FromName == "" {
		v.problem(i, "from_name is missing: name the control that made it")
		return nil
	}
	ctl := v.cfg.Control(e.FromName)
	if ctl == nil {
		v.problem(i, "from_name %s names no control; %s", quote(e.FromName), v.theControls())
		return nil
	}
	if e.ToName != ctl.ToName {
		v.problem(i, "to_name %s does not match: control %s labels %s", quote(e.ToName), quote(ctl.Name), quote(ctl.ToName))
		return nil
	}
	if e.Type != ctl.Type() {
		v.problem(i, "type %s does not match: control %s is a <%s>, whose results have type %q", quote(e.Type), quote(ctl.Name), ctl.Tag, ctl.Type())
		return nil
	}
	if e.Value == nil {
		v.problem(i, "value is missing")
		return nil
	}
	if ctl.PerRegion {
		if id := e.id(); id == "" || v.regions[id] != ctl.ToName {
			v.problem(i, "control %s answers per region, but id %s names no region of %s in this result", quote(ctl.Name), quote(id), quote(ctl.ToName))
		}
	}
	obj := v.cfg.Object(ctl.ToName)
	switch ctl.Tag {
	case "Choices":
		v.options(i, e, ctl, "choices")
	case "Labels", "HyperTextLabels":
		v.options(i, e, ctl, ctl.Type())
		if obj != nil && obj.Tag == "Text" {
			v.span(i, e, obj)
		} else {
			v.hyperSpan(i, e)
		}
	case "RectangleLabels":
		v.options(i, e, ctl, "rectanglelabels")
		v.box(i, e)
	case "TextArea":
		texts, ok := stringList(e.Value["text"])
		switch {
		case !ok:
			v.problem(i, "value.text must be a list of strings")
		case len(texts) == 0:
			v.problem(i, "value.text is empty")
		}
	case "Rating":
		n, msg := wholeNumber(e.Value, "rating")
		switch {
		case msg != "":
			v.problem(i, "%s", msg)
		case n < 1 || n > int64(ctl.MaxRating):
			v.problem(i, "value.rating %d is not from 1 to %d (maxRating)", n, ctl.MaxRating)
		}
	}
	return ctl
}

func (v *resultValidator) theControls() string {
	if len(v.cfg.Controls) == 0 {
		return "the config has no controls"
	}
	names := make([]string, len(v.cfg.Controls))
	for i, c := range v.cfg.Controls {
		names[i] = c.Name
	}
	return "the controls are: " + strings.Join(names, ", ")
}

// options checks value[key], the chosen choices or labels.
func (v *resultValidator) options(i int, e *resultEntry, ctl *Control, key string) {
	values, ok := stringList(e.Value[key])
	switch {
	case !ok:
		v.problem(i, "value.%s must be a list of strings", key)
		return
	case len(values) == 0:
		v.problem(i, "value.%s is empty", key)
		return
	case len(values) > 1 && ctl.Choice != "multiple":
		v.problem(i, "value.%s has %d values, but control %s takes one (choice=%q)", key, len(values), quote(ctl.Name), ctl.Choice)
	}
	for _, s := range values {
		if !slices.Contains(ctl.Labels, s) {
			v.problem(i, "value.%s has %s, which control %s does not list; it lists: %s", key, quote(s), quote(ctl.Name), strings.Join(ctl.Labels, ", "))
		}
	}
}

// span checks a character span on a Text object.
func (v *resultValidator) span(i int, e *resultEntry, obj *Object) {
	start, msg := wholeNumber(e.Value, "start")
	if msg != "" {
		v.problem(i, "%s", msg)
		return
	}
	end, msg := wholeNumber(e.Value, "end")
	if msg != "" {
		v.problem(i, "%s", msg)
		return
	}
	if start < 0 || start >= end {
		v.problem(i, "value.start (%d) must be 0 or more and less than value.end (%d)", start, end)
		return
	}
	text, ok, msg := v.objectText(obj)
	if msg != "" {
		v.problem(i, "%s", msg)
		return
	}
	if !ok {
		return
	}
	n := utf8.RuneCountInString(text)
	if end > int64(n) {
		v.problem(i, "value.end (%d) is past the end of the text, which has %d characters (Unicode code points, as Label Studio counts them)", end, n)
		return
	}
	got, given := e.Value["text"]
	if !given || string(got) == "null" {
		return
	}
	var claimed string
	if json.Unmarshal(got, &claimed) != nil {
		v.problem(i, "value.text must be a string")
		return
	}
	if at := runeSlice(text, int(start), int(end)); !sameSpanText(claimed, at) {
		v.problem(i, "value.text %s is not the text at %d..%d, which is %s", quote(claimed), start, end, quote(at))
	}
}

// objectText returns the text a Text object shows: ok is false when it
// cannot be known here (no task data given, or the data is a URL).
func (v *resultValidator) objectText(obj *Object) (text string, ok bool, problem string) {
	if obj.DataKey == "" {
		if strings.Contains(obj.Value, "$") {
			return "", false, "" // a template over several fields
		}
		return obj.Value, true, ""
	}
	if v.data == nil || strings.EqualFold(obj.Attrs.Get("valueType"), "url") {
		return "", false, ""
	}
	raw, found := v.data[obj.DataKey]
	if !found {
		return "", false, fmt.Sprintf("the task data has no field %s for %s", quote(obj.DataKey), showTag(lookupTag(obj.Tag), obj.Tag, obj.Attrs))
	}
	if json.Unmarshal(raw, &text) != nil {
		return "", false, fmt.Sprintf("the task data field %s is not a string, so %s cannot have spans", quote(obj.DataKey), showTag(lookupTag(obj.Tag), obj.Tag, obj.Attrs))
	}
	return text, true, ""
}

// hyperSpan checks a span on a HyperText object: XPath ends with offsets
// into their text nodes, and (in results from Label Studio 1.4 on) global
// offsets in code points. The HTML is not rendered here, so offsets are
// checked for shape and order, not against the document.
func (v *resultValidator) hyperSpan(i int, e *resultEntry) {
	for _, key := range []string{"start", "end"} {
		var s string
		if json.Unmarshal(e.Value[key], &s) != nil || s == "" {
			v.problem(i, "value.%s must be the XPath of the span's %s node", key, key)
			return
		}
	}
	startOffset, msg := wholeNumber(e.Value, "startOffset")
	if msg == "" {
		var endOffset int64
		endOffset, msg = wholeNumber(e.Value, "endOffset")
		if msg == "" && (startOffset < 0 || endOffset < 0) {
			msg = "value.startOffset and value.endOffset must be 0 or more"
		}
	}
	if msg != "" {
		v.problem(i, "%s", msg)
		return
	}
	raw, ok := e.Value["globalOffsets"]
	if !ok || string(raw) == "null" {
		return
	}
	var g map[string]json.RawMessage
	if json.Unmarshal(raw, &g) != nil {
		v.problem(i, "value.globalOffsets must be an object with start and end")
		return
	}
	gs, msg := wholeNumber(g, "start")
	if msg == "" {
		var ge int64
		ge, msg = wholeNumber(g, "end")
		if msg == "" && (gs < 0 || gs >= ge) {
			msg = fmt.Sprintf("start (%d) must be 0 or more and less than end (%d)", gs, ge)
		}
	}
	if msg != "" {
		v.problem(i, "value.globalOffsets: %s", strings.TrimPrefix(msg, "value."))
	}
}

// box checks a rectangle on an image. Label Studio gives x and y (the
// top-left corner before rotation), width and height in percent of the
// image, and rotation in degrees clockwise about that corner.
func (v *resultValidator) box(i int, e *resultEntry) {
	var n [4]float64
	for k, key := range []string{"x", "y", "width", "height"} {
		f, msg := number(e.Value, key)
		if msg != "" {
			v.problem(i, "%s", msg)
			return
		}
		if f < -boxTolerance || f > 100+boxTolerance {
			v.problem(i, "value.%s (%s) must be a percentage from 0 to 100", key, percent(f))
			return
		}
		n[k] = f
	}
	x, y, w, h := n[0], n[1], n[2], n[3]
	rotation := 0.0
	if _, ok := e.Value["rotation"]; ok {
		var msg string
		if rotation, msg = number(e.Value, "rotation"); msg != "" {
			v.problem(i, "%s", msg)
			return
		}
	}
	// A rotated box's unrotated extent may pass the edge while the box
	// itself stays inside, and where it ends depends on the image's
	// aspect ratio; only unrotated boxes are checked against the edges.
	if math.Mod(rotation, 360) == 0 {
		if x+w > 100+boxTolerance {
			v.problem(i, "the box passes the image's right edge: x + width = %s%%", percent(x+w))
		}
		if y+h > 100+boxTolerance {
			v.problem(i, "the box passes the image's bottom edge: y + height = %s%%", percent(y+h))
		}
	}
	for key, p := range map[string]*float64{"original_width": e.OriginalWidth, "original_height": e.OriginalHeight} {
		if p != nil && *p <= 0 {
			v.problem(i, "%s must be the image's size in pixels, more than 0", key)
		}
	}
}

// percent shows a percentage to the tolerance's precision, without the
// float noise of a sum (100.01, not 100.00999999999999).
func percent(f float64) string {
	const scale = 1 / boxTolerance
	return strconv.FormatFloat(math.Round(f*scale)/scale, 'f', -1, 64)
}

// stringList decodes a JSON list of strings.
func stringList(raw json.RawMessage) ([]string, bool) {
	var list []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	return list, true
}

// number reads m[key] as a JSON number, or says what is wrong.
func number(m map[string]json.RawMessage, key string) (float64, string) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return 0, fmt.Sprintf("value.%s is missing", key)
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, fmt.Sprintf("value.%s must be a number", key)
	}
	return f, ""
}

// wholeNumber reads m[key] as a whole number (7 or 7.0, not 7.5).
func wholeNumber(m map[string]json.RawMessage, key string) (int64, string) {
	f, msg := number(m, key)
	if msg != "" {
		return 0, msg
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Sprintf("value.%s must be a whole number, not %g", key, f)
	}
	return int64(f), ""
}

// runeSlice returns s[start:end] counted in code points.
func runeSlice(s string, start, end int) string {
	i, from := 0, len(s)
	for pos := range s {
		if i == start {
			from = pos
		}
		if i == end {
			return s[from:pos]
		}
		i++
	}
	return s[from:]
}

// sameSpanText compares a span's value.text with the task text at its
// offsets. Label Studio takes value.text from the browser's selection, so
// it can differ from the data in whitespace (collapsed unless the config
// styles the text pre-wrap) and writes line breaks as the two characters
// \n; what must agree is everything else, which is what catches offsets
// that point at the wrong place.
func sameSpanText(claimed, actual string) bool {
	if claimed == actual {
		return true
	}
	squeeze := func(s string) string {
		s = strings.NewReplacer(`\r`, "", `\n`, "", `\t`, "").Replace(s)
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	return squeeze(claimed) == squeeze(actual)
}
