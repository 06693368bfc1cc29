package labeling

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"

	"github.com/glossa-dev/glossa"
)

// maxTaskBytes bounds one task of an import; the whole request has its own
// limit.
const maxTaskBytes = 16 << 20

// importTask is a task in Label Studio's import format. Other fields of a
// Label Studio export (id, project, created_at, drafts, ...) are ignored.
type importTask struct {
	Data        json.RawMessage    `json:"data"`
	Meta        json.RawMessage    `json:"meta"`
	Annotations []importAnnotation `json:"annotations"`
	Predictions []importPrediction `json:"predictions"`
}

type importAnnotation struct {
	Result       json.RawMessage `json:"result"`
	WasCancelled bool            `json:"was_cancelled"`
	GroundTruth  bool            `json:"ground_truth"`
	LeadTime     *float64        `json:"lead_time"`
}

type importPrediction struct {
	Result       json.RawMessage `json:"result"`
	ModelVersion json.RawMessage `json:"model_version"`
	Score        *float64        `json:"score"`
}

// ReadTasks decodes Label Studio's JSON task import from r as a stream: a
// list of tasks, or one task object. Each element is either a task
// ({"data": {...}, "annotations": [...], "predictions": [...]}) or, without
// a "data" object, the task data itself. The sequence yields tasks one by
// one and stops at the first error, which names the task's position.
func ReadTasks(r io.Reader) iter.Seq2[*glossa.TaskImport, error] {
	return func(yield func(*glossa.TaskImport, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		first, err := firstByte(br)
		if err != nil {
			yield(nil, decodeError(err, 0))
			return
		}
		dec := json.NewDecoder(br)
		if first != '[' {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				yield(nil, decodeError(err, 1))
				return
			}
			if dec.More() {
				yield(nil, glossa.Errorf(glossa.EINVALID, "The import holds more than one JSON value; send a list of tasks."))
				return
			}
			t, err := parseTask(raw, 1)
			yield(t, err)
			return
		}
		if _, err := dec.Token(); err != nil { // the '['
			yield(nil, decodeError(err, 0))
			return
		}
		n := 0
		for dec.More() {
			n++
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				yield(nil, decodeError(err, n))
				return
			}
			t, err := parseTask(raw, n)
			if !yield(t, err) || err != nil {
				return
			}
		}
		if _, err := dec.Token(); err != nil { // the ']'
			yield(nil, decodeError(err, n+1))
			return
		}
		if dec.More() {
			yield(nil, glossa.Errorf(glossa.EINVALID, "The import has data after the closing ] of the task list."))
			return
		}
		if n == 0 {
			yield(nil, glossa.Errorf(glossa.EINVALID, "The import holds no tasks: send a JSON list such as [{\"text\": \"first task\"}]."))
		}
	}
}

// firstByte returns the first non-space byte without consuming it.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, br.UnreadByte()
		}
	}
}

// decodeError turns a stream decoding error into a clear, safe message.
func decodeError(err error, task int) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return glossa.Errorf(glossa.ETOOLARGE, "The import is larger than the limit of %d bytes; split it into several requests.", maxErr.Limit)
	case errors.Is(err, io.EOF) && task == 0:
		return glossa.Errorf(glossa.EINVALID, "The import is empty: send a JSON list of tasks.")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return glossa.Errorf(glossa.EINVALID, "The import ends in the middle of task %d: the JSON is cut short.", max(task, 1))
	case errors.As(err, &syntaxErr):
		return glossa.Errorf(glossa.EINVALID, "The import is not valid JSON at byte %d (task %d).", syntaxErr.Offset, max(task, 1))
	default:
		return glossa.Wrap(glossa.EINVALID, err, "The import could not be read as JSON.")
	}
}

// parseTask turns one element of the list into a task.
func parseTask(raw json.RawMessage, n int) (*glossa.TaskImport, error) {
	if len(raw) > maxTaskBytes {
		return nil, glossa.Errorf(glossa.ETOOLARGE, "Task %d is larger than 16 MiB.", n)
	}
	if raw[0] != '{' {
		return nil, glossa.Errorf(glossa.EINVALID, "Task %d is not a JSON object: each task is {\"data\": {...}} or the data object itself.", n)
	}
	var probe struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "Task %d could not be read: %s", n, fieldError(err))
	}
	if len(probe.Data) == 0 {
		// No "data" field: the whole element is the task's data.
		return &glossa.TaskImport{Data: compact(raw)}, nil
	}
	if probe.Data[0] != '{' {
		return nil, glossa.Errorf(glossa.EINVALID, "Task %d: data must be an object such as {\"text\": \"...\"}.", n)
	}
	var it importTask
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "Task %d could not be read: %s", n, fieldError(err))
	}
	t := &glossa.TaskImport{Data: compact(it.Data)}
	if len(it.Meta) > 0 && string(it.Meta) != "null" {
		if it.Meta[0] != '{' {
			return nil, glossa.Errorf(glossa.EINVALID, "Task %d: meta must be an object.", n)
		}
		t.Meta = compact(it.Meta)
	}
	for i, a := range it.Annotations {
		if err := checkResultShape(a.Result); err != nil {
			return nil, glossa.Errorf(glossa.EINVALID, "Task %d, annotation %d: %s", n, i+1, glossa.ErrorMessage(err))
		}
		ann := glossa.Annotation{Result: compact(a.Result), WasCancelled: a.WasCancelled, GroundTruth: a.GroundTruth}
		if a.LeadTime != nil {
			ann.LeadTime = *a.LeadTime
		}
		t.Annotations = append(t.Annotations, ann)
	}
	for i, p := range it.Predictions {
		if err := checkResultShape(p.Result); err != nil {
			return nil, glossa.Errorf(glossa.EINVALID, "Task %d, prediction %d: %s", n, i+1, glossa.ErrorMessage(err))
		}
		pred := glossa.Prediction{Result: compact(p.Result), Score: p.Score}
		// model_version is a string in Label Studio, but scripts send numbers too.
		if len(p.ModelVersion) > 0 && string(p.ModelVersion) != "null" {
			var s string
			if json.Unmarshal(p.ModelVersion, &s) != nil {
				s = string(p.ModelVersion)
			}
			pred.ModelVersion = s
		}
		t.Predictions = append(t.Predictions, pred)
	}
	return t, nil
}

// fieldError explains a type mismatch in a task without internal text.
func fieldError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field + " has the wrong JSON type (" + typeErr.Value + ")."
	}
	return "it does not have Label Studio's task shape."
}

// compact removes insignificant whitespace, keeping keys and values as sent.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
