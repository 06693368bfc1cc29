package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/glossa-dev/glossa"
)

// errorStatus maps an error code to its HTTP status. It is the only place
// that does: everything else returns *glossa.Error values.
func errorStatus(code string) int {
	switch code {
	case glossa.EINVALID:
		return http.StatusBadRequest
	case glossa.EUNAUTHORIZED, glossa.EREAUTH:
		return http.StatusUnauthorized
	case glossa.EFORBIDDEN:
		return http.StatusForbidden
	case glossa.ENOTFOUND:
		return http.StatusNotFound
	case glossa.ECONFLICT:
		return http.StatusConflict
	case glossa.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case glossa.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case glossa.ETOOMANY:
		return http.StatusTooManyRequests
	case glossa.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is the JSON error shape of the contract:
// {"error":{"code":"forbidden","message":"...","request_id":"..."}}.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id,omitempty"`
		// Location, on a reauthenticate error, is where to sign in again
		// for fresh cloud credentials.
		Location string `json:"location,omitempty"`
	} `json:"error"`
}

// writeError writes err as a JSON error. Internal detail goes to the log
// only; the response carries the code, the safe message and the request ID.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if !isAPIPath(r.URL.Path) {
		// A browser page refused by the middleware (CSRF, cross-origin,
		// a panic) gets an error page, not JSON.
		s.writeErrorPage(w, r, err)
		return
	}
	code := glossa.ErrorCode(err)
	if code == glossa.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "request failed", "err", err)
	} else {
		s.Logger.DebugContext(r.Context(), "request refused", "code", code, "err", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = glossa.ErrorMessage(err)
	body.Error.RequestID = glossa.RequestIDFromContext(r.Context())
	if p := glossa.PrincipalFromContext(r.Context()); p != nil && code == glossa.EREAUTH {
		body.Error.Location = s.BaseURL.JoinPath(reauthPath(p.OrgSlug, "")).String()
	}
	writeJSON(w, errorStatus(code), body)
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the status is sent; a write error means the client left
}

// decodeJSON reads one JSON value from the body into v, refusing unknown
// fields, trailing data, bodies over limit bytes and non-JSON content types
// (the API takes no form bodies, which also keeps cross-site forms out).
func decodeJSON(r *http.Request, limit int64, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return glossa.Errorf(glossa.EINVALID, "The request body holds more than one JSON value.")
	}
	return nil
}

// requireJSON refuses a body that does not say it is JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "text/json") {
		return glossa.Errorf(glossa.EINVALID, "Send the request body as JSON with Content-Type: application/json.")
	}
	return nil
}

// jsonError turns a decoding error into a safe, specific message.
func jsonError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return glossa.Errorf(glossa.ETOOLARGE, "The request body is larger than the limit of %d bytes.", maxErr.Limit)
	case errors.As(err, &syntaxErr):
		return glossa.Errorf(glossa.EINVALID, "The request body is not valid JSON (at byte %d).", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return glossa.Errorf(glossa.EINVALID, "Field %q must be of JSON type %s, not %s.", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return glossa.Errorf(glossa.EINVALID, "The request body must be a JSON %s, not %s.", jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.Is(err, io.EOF):
		return glossa.Errorf(glossa.EINVALID, "The request body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return glossa.Errorf(glossa.EINVALID, "The request body ends in the middle of a JSON value.")
	default:
		var unknown string
		if n, _ := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); n == 1 {
			return glossa.Errorf(glossa.EINVALID, "Unknown field %q.", unknown)
		}
		return glossa.Errorf(glossa.EINVALID, "The request body could not be read as JSON.")
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "number"
	case "bool":
		return "boolean"
	default:
		return kind
	}
}

// pathID parses a numeric path value such as {id}; anything else is 404,
// since no object has that ID.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, glossa.NotFound("Object")
	}
	return id, nil
}

// queryInt parses an optional integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, glossa.Errorf(glossa.EINVALID, "Query parameter %q must be a whole number from %d to %d.", name, min, max)
	}
	return n, nil
}
