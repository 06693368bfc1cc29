package labeling

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/glossa-dev/glossa"
)

// ExportFormat describes one export format, as Label Studio lists them at
// /api/projects/{id}/export/formats.
type ExportFormat struct {
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// ExportFormats lists the formats NewExportWriter accepts.
var ExportFormats = []ExportFormat{
	{Name: "JSON", Title: "JSON", Description: "List of items in raw JSON format stored in one JSON file. Use to export both the data and the annotations for a dataset. It's Label Studio Common Format.", Tags: []string{}},
	{Name: "JSON_MIN", Title: "JSON-MIN", Description: "List of items where only \"from_name\", \"to_name\" values from the raw JSON format are exported. Use to export only the annotations for a dataset.", Tags: []string{}},
	{Name: "CSV", Title: "CSV", Description: "Results are stored as comma-separated values with the column names specified by the values of the \"from_name\" and \"to_name\" fields.", Tags: []string{}},
}

// ExportWriter writes tasks in one export format as they come.
type ExportWriter interface {
	Write(t *glossa.Task) error
	// Close finishes the output (closing brackets, or the CSV body).
	Close() error
	ContentType() string
	Extension() string
}

// NewExportWriter returns a writer for format (JSON, JSON_MIN or CSV, in
// any case) that writes to w.
func NewExportWriter(format string, w io.Writer) (ExportWriter, error) {
	switch strings.ToUpper(format) {
	case "JSON":
		return &jsonWriter{w: bufio.NewWriterSize(w, 64<<10), row: exportTask}, nil
	case "JSON_MIN":
		return &jsonWriter{w: bufio.NewWriterSize(w, 64<<10), row: minRows}, nil
	case "CSV":
		return &csvWriter{out: w}, nil
	}
	return nil, glossa.Errorf(glossa.EINVALID, "Unknown exportType %q: use JSON, JSON_MIN or CSV.", format)
}

// exportedAnnotation is an annotation in Label Studio's export shape.
type exportedAnnotation struct {
	glossa.Annotation
	ResultCount int `json:"result_count"`
}

type exportedTask struct {
	ID          int64                `json:"id"`
	Data        json.RawMessage      `json:"data"`
	Meta        json.RawMessage      `json:"meta"`
	Annotations []exportedAnnotation `json:"annotations"`
	Predictions []glossa.Prediction  `json:"predictions"`
	Drafts      []any                `json:"drafts"`
	Project     int64                `json:"project"`
	CreatedAt   any                  `json:"created_at"`
	UpdatedAt   any                  `json:"updated_at"`
}

// exportTask renders a task in Label Studio's JSON export shape.
func exportTask(t *glossa.Task) []any {
	et := exportedTask{
		ID: t.ID, Data: t.Data, Meta: t.Meta, Project: t.ProjectID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Annotations: make([]exportedAnnotation, len(t.Annotations)), Predictions: t.Predictions, Drafts: []any{},
	}
	if len(et.Meta) == 0 {
		et.Meta = json.RawMessage("{}")
	}
	if et.Predictions == nil {
		et.Predictions = []glossa.Prediction{}
	}
	for i, a := range t.Annotations {
		var items []json.RawMessage
		_ = json.Unmarshal(a.Result, &items)
		et.Annotations[i] = exportedAnnotation{Annotation: a, ResultCount: len(items)}
	}
	return []any{et}
}

// minRows renders a task as Label Studio's JSON_MIN rows: one per
// annotation (one with just the data for a task without annotations), with
// the task data's fields, the annotation's facts and, under each control's
// from_name, its answer. A single choice is a plain string, as in Label
// Studio; other answers are the result's value objects (a list when a
// control gave several regions).
func minRows(t *glossa.Task) []any {
	base := func() map[string]any {
		row := map[string]any{}
		var data map[string]json.RawMessage
		_ = json.Unmarshal(t.Data, &data)
		for k, v := range data {
			row[k] = v
		}
		row["id"] = t.ID
		return row
	}
	if len(t.Annotations) == 0 {
		return []any{base()}
	}
	rows := make([]any, 0, len(t.Annotations))
	for _, a := range t.Annotations {
		row := base()
		row["annotator"] = a.CompletedBy
		row["annotation_id"] = a.ID
		row["created_at"] = a.CreatedAt
		row["updated_at"] = a.UpdatedAt
		row["lead_time"] = a.LeadTime
		var items []struct {
			FromName string                     `json:"from_name"`
			Type     string                     `json:"type"`
			Value    map[string]json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(a.Result, &items)
		answers := map[string][]any{}
		var order []string
		for _, it := range items {
			if it.FromName == "" {
				continue
			}
			if _, seen := answers[it.FromName]; !seen {
				order = append(order, it.FromName)
			}
			answers[it.FromName] = append(answers[it.FromName], minValue(it.Type, it.Value))
		}
		for _, name := range order {
			if v := answers[name]; len(v) == 1 {
				row[name] = v[0]
			} else {
				row[name] = v
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// minValue simplifies one result value: a single choice becomes its text,
// several choices {"choices": [...]}, anything else the value object.
func minValue(typ string, value map[string]json.RawMessage) any {
	if typ == "choices" {
		var choices []string
		if json.Unmarshal(value["choices"], &choices) == nil && len(choices) == 1 {
			return choices[0]
		}
	}
	return value
}

// jsonWriter writes a JSON list, one element per row.
type jsonWriter struct {
	w     *bufio.Writer
	row   func(*glossa.Task) []any
	count int
}

func (j *jsonWriter) Write(t *glossa.Task) error {
	for _, row := range j.row(t) {
		sep := ",\n"
		if j.count == 0 {
			sep = "[\n"
		}
		j.count++
		if _, err := j.w.WriteString(sep); err != nil {
			return err
		}
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		if _, err := j.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonWriter) Close() error {
	end := "\n]\n"
	if j.count == 0 {
		end = "[]\n"
	}
	if _, err := j.w.WriteString(end); err != nil {
		return err
	}
	return j.w.Flush()
}

func (j *jsonWriter) ContentType() string { return "application/json" }
func (j *jsonWriter) Extension() string   { return ".json" }

// csvWriter writes JSON_MIN rows as CSV. The header must list every column,
// and the columns are known only after the last row, so rows are spooled to
// a temporary file (memory stays flat however big the project) and written
// out at Close.
type csvWriter struct {
	out     io.Writer
	spool   *os.File
	spoolW  *bufio.Writer
	columns map[string]bool
}

func (c *csvWriter) Write(t *glossa.Task) error {
	if c.spool == nil {
		f, err := os.CreateTemp("", "glossa-export-*.jsonl")
		if err != nil {
			return err
		}
		c.spool, c.spoolW, c.columns = f, bufio.NewWriterSize(f, 64<<10), map[string]bool{}
	}
	for _, row := range minRows(t) {
		for k := range row.(map[string]any) {
			c.columns[k] = true
		}
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if _, err := c.spoolW.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) Close() error {
	cw := csv.NewWriter(c.out)
	if c.spool == nil {
		cw.Write([]string{"id"})
		cw.Flush()
		return cw.Error()
	}
	defer os.Remove(c.spool.Name())
	defer c.spool.Close()
	if err := c.spoolW.Flush(); err != nil {
		return err
	}
	cols := csvColumns(c.columns)
	if err := cw.Write(cols); err != nil {
		return err
	}
	if _, err := c.spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReaderSize(c.spool, 64<<10))
	record := make([]string, len(cols))
	for {
		var row map[string]json.RawMessage
		if err := dec.Decode(&row); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		for i, col := range cols {
			record[i] = csvCell(row[col])
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvColumns orders the columns: id first, then the rest by name.
func csvColumns(set map[string]bool) []string {
	cols := make([]string, 0, len(set))
	for k := range set {
		if k != "id" {
			cols = append(cols, k)
		}
	}
	sort.Strings(cols)
	return append([]string{"id"}, cols...)
}

// csvCell writes strings as they are and everything else as JSON.
func csvCell(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

func (c *csvWriter) ContentType() string { return "text/csv; charset=utf-8" }
func (c *csvWriter) Extension() string   { return ".csv" }
