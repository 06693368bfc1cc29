package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/glossa-dev/glossa"
)

// The data manager's listing, QueryTasks.
//
// Cost, at a million tasks (BenchmarkQueryTasks measures it):
//
//   - Sorting by id or by a task column (created_at, updated_at,
//     total_annotations, total_predictions, review_state) is a range scan
//     of the index on (project_id, column, id), positioned by the cursor
//     on (last value, last id) (see keyset), so a deep page costs what the
//     first does. Filters on task columns are checked as the scan goes, or
//     the planner starts from their own index when that also gives the
//     order (an equality on review_state, sorted by id). SQLite, which has
//     no statistics, is kept from reading a filter's range and sorting it
//     (see sqliteUnindexed).
//   - The annotators filter reads the tasks the named people annotated in
//     the project from the index on annotations (completed_by, project_id,
//     task_id): up to annotatorListMax of them become a list of task IDs
//     (a rare annotator costs a few index lookups), more become a probe
//     per task as the scan goes. That is quick for people who annotated a
//     good share of the project (the page fills after a few hundred
//     probes) and slowest just past the threshold: a person with a
//     thousand tasks among a million costs a probe for each of the tasks
//     the scan passes to fill a page, about a hundred thousand.
//   - data.<key> filters and sorts read the field out of each task's JSON
//     (json_extract on SQLite, data::jsonb -> 'key' on PostgreSQL): no
//     index serves them. A filter on a field is checked as the scan by the
//     sort column goes and stops when the page is full, so its cost is the
//     number of tasks scanned to find a page of matches. A sort by a field
//     reads and sorts the field of every task of the project that passes
//     the other filters (a top-N sort), on every page: at a million tasks
//     that is one to three seconds a page. (A PostgreSQL administrator can
//     add an expression index, but the parameterized query does not use
//     it.)
//   - The total (see glossa.DataManagerPage) is counted on the first page
//     only. Without filters it is the project's counter. With filters it
//     is a COUNT that stops at DataManagerCountLimit matches: its cost is
//     the rows it reads to find that many, cheap when matches are dense
//     or an index finds them, a scan of the project when they are rare and
//     only a probe or a data.<key> field tells them (a rare value of a
//     field: a second or so at a million tasks).
//
// Every query names the organization (t.org_id = ?) besides the project.

// Limits on what one query may ask for, so that its SQL stays small.
const (
	maxFilters       = 32
	maxFilterList    = 10_000
	maxDataKey       = 256
	annotatorListMax = 1000
)

type dmKind int

const (
	kindID dmKind = iota
	kindInt
	kindTime
	kindReview
	kindAnnotators
	kindData
)

// dmColumn is a column of the data manager, parsed.
type dmColumn struct {
	kind dmKind
	name string // as the client wrote it, for messages
	col  string // the tasks column (task columns)
	key  string // the field (data.<key>)
}

const columnList = "id, created_at, updated_at, total_annotations, total_predictions, review_state, annotators or data.<field>"

func parseColumn(c glossa.DataManagerColumn) (dmColumn, error) {
	switch c {
	case glossa.ColumnID:
		return dmColumn{kind: kindID, name: string(c), col: "id"}, nil
	case glossa.ColumnCreatedAt, glossa.ColumnUpdatedAt:
		return dmColumn{kind: kindTime, name: string(c), col: string(c)}, nil
	case glossa.ColumnAnnotations, glossa.ColumnPredictions:
		return dmColumn{kind: kindInt, name: string(c), col: string(c)}, nil
	case glossa.ColumnReviewState:
		return dmColumn{kind: kindReview, name: string(c), col: "review_state"}, nil
	case glossa.ColumnAnnotators:
		return dmColumn{kind: kindAnnotators, name: string(c)}, nil
	}
	if key, ok := strings.CutPrefix(string(c), "data."); ok {
		if !validDataKey(key) {
			return dmColumn{}, glossa.Errorf(glossa.EINVALID,
				"The data field %q cannot be used: a field name has 1 to %d characters, none of them quotes, backslashes or control characters.",
				clip(key), maxDataKey)
		}
		return dmColumn{kind: kindData, name: string(c), key: key}, nil
	}
	return dmColumn{}, glossa.Errorf(glossa.EINVALID, "Unknown column %q: use %s.", clip(string(c)), columnList)
}

// validDataKey reports whether key can name a data field. The key always
// travels as a query parameter; on SQLite it is quoted inside a JSON path
// ($."key"), which is why quotes and backslashes are refused.
func validDataKey(key string) bool {
	if key == "" || len(key) > maxDataKey || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

// clip shortens what a client sent for quoting in a message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// comparisons maps the comparison operators to SQL.
var comparisons = map[string]string{
	"equal": "=", "not_equal": "<>", "less": "<", "greater": ">", "less_or_equal": "<=", "greater_or_equal": ">=",
}

// Operators by column kind, for messages.
const (
	opsNumber     = "equal, not_equal, less, greater, less_or_equal, greater_or_equal, in or not_in"
	opsReview     = "equal, not_equal, in, not_in or empty"
	opsAnnotators = "in, not_in or empty"
	opsData       = "equal, not_equal, less, greater, less_or_equal, greater_or_equal, contains, not_contains or empty"
)

func badOperator(c dmColumn, op, allowed string) error {
	return glossa.Errorf(glossa.EINVALID, "The operator %q does not apply to %s: use %s.", clip(op), c.name, allowed)
}

func badValue(c dmColumn, op, want string) error {
	return glossa.Errorf(glossa.EINVALID, "The filter on %s (%s) takes %s.", c.name, op, want)
}

// notJSON is what decodeJSON returns for a value that is not JSON, so
// that it is never mistaken for null.
type notJSON struct{}

// decodeJSON decodes a filter value, numbers as json.Number.
func decodeJSON(raw json.RawMessage) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return notJSON{}, false
	}
	return v, true
}

// wholeNumber returns v as an int64 if it is a JSON number without a
// fraction.
func wholeNumber(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// sqliteNumber is a JSON number as SQLite compares it: INTEGER or REAL.
func sqliteNumber(n json.Number) (any, bool) {
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	return f, true
}

// filterSQL is a condition on tasks t and its arguments.
type filterSQL struct {
	cond string
	args []any
}

// dmFilter is a filter's condition, and what sqliteUnindexed needs to
// know of it: the task column it constrains (and the only one it names),
// if any, and whether it picks values (equal, a list) rather than a range.
type dmFilter struct {
	filterSQL
	col   string
	point bool
	// author is set for "annotators in [one person]" when that person's
	// tasks are many: alone, such a filter is counted on their
	// annotations (see compileQuery).
	author int64
}

// compileFilters turns the filters into conditions on tasks t. The
// annotators filter looks up the people's tasks, hence the conn.
func (db *DB) compileFilters(ctx context.Context, c conn, q glossa.DataManagerQuery) ([]dmFilter, error) {
	if len(q.Filters) > maxFilters {
		return nil, glossa.Errorf(glossa.EINVALID, "A view has at most %d filters.", maxFilters)
	}
	var out []dmFilter
	for _, f := range q.Filters {
		col, err := parseColumn(f.Column)
		if err != nil {
			return nil, err
		}
		var fs []filterSQL
		var idList *dmFilter
		switch col.kind {
		case kindID, kindInt:
			fs, err = db.numberFilter(col, f)
		case kindTime:
			fs, err = db.timeFilter(col, f)
		case kindReview:
			fs, err = db.reviewFilter(col, f)
		case kindAnnotators:
			fs, idList, err = db.annotatorsFilter(ctx, c, q, col, f)
		case kindData:
			fs, err = db.dataFilter(col, f)
		}
		if err != nil {
			return nil, err
		}
		if idList != nil {
			out = append(out, *idList)
			continue
		}
		var list []any
		_ = json.Unmarshal(f.Value, &list)
		point := f.Operator == "equal" || (f.Operator == "in" && list != nil) || (f.Operator == "empty" && string(bytes.TrimSpace(f.Value)) == "true")
		for _, fs := range fs {
			out = append(out, dmFilter{filterSQL: fs, col: col.col, point: point})
		}
	}
	return out, nil
}

// sqliteUnindexed reports whether a page's query on SQLite should keep
// the planner from using filter f's column index, by writing the column
// as +t.col. SQLite has no statistics (unless someone runs ANALYZE) and
// guesses that a range on an indexed column is selective: given
// "total_annotations < 5 ORDER BY updated_at", it reads the range and
// sorts it, a million rows, rather than walk the updated_at index and
// stop after a page. So on a page, only the sort column's index serves,
// and besides it an index that both finds and orders: a point filter
// (equal, a list) on a column whose index continues with id, when the
// order is by id, or a list of IDs. A data.<key> sort reads every task
// anyway; there every index may serve. Counts keep every index.
func sqliteUnindexed(f dmFilter, sk sortKey) bool {
	switch {
	case f.col == "" || sk.col.kind == kindData || f.col == sk.col.col:
		return false
	case f.point && (sk.col.kind == kindID || f.col == "id"):
		return false
	}
	return true
}

func (db *DB) numberFilter(c dmColumn, f glossa.DataManagerFilter) ([]filterSQL, error) {
	col := "t." + c.col
	v, ok := decodeJSON(f.Value)
	if op, cmp := comparisons[f.Operator]; cmp {
		n, ok2 := wholeNumber(v)
		if !ok || !ok2 {
			return nil, badValue(c, f.Operator, "a whole number")
		}
		return []filterSQL{{col + " " + op + " ?", []any{n}}}, nil
	}
	if f.Operator != "in" && f.Operator != "not_in" {
		return nil, badOperator(c, f.Operator, opsNumber)
	}
	not := f.Operator == "not_in"
	switch v := v.(type) {
	case []any:
		if len(v) > maxFilterList {
			return nil, glossa.Errorf(glossa.EINVALID, "The filter on %s lists more than %d values.", c.name, maxFilterList)
		}
		ids := make([]int64, 0, len(v))
		for _, e := range v {
			n, ok := wholeNumber(e)
			if !ok {
				return nil, badValue(c, f.Operator, `a list of whole numbers or a range {"min": a, "max": b}`)
			}
			ids = append(ids, n)
		}
		return []filterSQL{db.inIntsFilter(col, ids, not)}, nil
	case map[string]any:
		lo, ok1 := wholeNumber(v["min"])
		hi, ok2 := wholeNumber(v["max"])
		if !ok1 || !ok2 || len(v) != 2 {
			return nil, badValue(c, f.Operator, `a list of whole numbers or a range {"min": a, "max": b}`)
		}
		return []filterSQL{rangeFilter(col, lo, hi, not)}, nil
	}
	return nil, badValue(c, f.Operator, `a list of whole numbers or a range {"min": a, "max": b}`)
}

// always is the filter that every task passes (b) or none does.
func always(b bool) filterSQL {
	if b {
		return filterSQL{"TRUE", nil}
	}
	return filterSQL{"FALSE", nil}
}

// inIntsFilter is "col is one of ids", or "none of" when not.
func (db *DB) inIntsFilter(col string, ids []int64, not bool) filterSQL {
	if len(ids) == 0 {
		return always(not)
	}
	in, args := db.inInts(col, ids)
	if not {
		in = "NOT (" + in + ")"
	}
	return filterSQL{in, args}
}

// rangeFilter is lo <= col <= hi, or its opposite. Not BETWEEN: SQLite
// seeks on BETWEEN's lower bound even when the cursor's is tighter.
func rangeFilter(col string, lo, hi any, not bool) filterSQL {
	if not {
		return filterSQL{"(" + col + " < ? OR " + col + " > ?)", []any{lo, hi}}
	}
	return filterSQL{col + " >= ? AND " + col + " <= ?", []any{lo, hi}}
}

// parseFilterTime reads an RFC 3339 time of a filter.
func parseFilterTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func (db *DB) timeFilter(c dmColumn, f glossa.DataManagerFilter) ([]filterSQL, error) {
	col := "t." + c.col
	v, _ := decodeJSON(f.Value)
	if op, cmp := comparisons[f.Operator]; cmp {
		t, ok := parseFilterTime(v)
		if !ok {
			return nil, badValue(c, f.Operator, "a time in RFC 3339 form (2025-03-04T05:06:07Z)")
		}
		return []filterSQL{{col + " " + op + " ?", []any{db.timeValue(t)}}}, nil
	}
	if f.Operator != "in" && f.Operator != "not_in" {
		return nil, badOperator(c, f.Operator, opsNumber)
	}
	m, ok := v.(map[string]any)
	lo, ok1 := parseFilterTime(m["min"])
	hi, ok2 := parseFilterTime(m["max"])
	if !ok || !ok1 || !ok2 || len(m) != 2 {
		return nil, badValue(c, f.Operator, `a range {"min": time, "max": time} of RFC 3339 times`)
	}
	return []filterSQL{rangeFilter(col, db.timeValue(lo), db.timeValue(hi), f.Operator == "not_in")}, nil
}

// reviewStateValue reads a review state of a filter; "none" is "".
func reviewStateValue(v any) (string, bool) {
	s, ok := v.(string)
	switch {
	case !ok:
		return "", false
	case s == "none" || s == string(glossa.ReviewNone):
		return "", true
	case s == string(glossa.ReviewAccepted) || s == string(glossa.ReviewRejected):
		return s, true
	}
	return "", false
}

func (db *DB) reviewFilter(c dmColumn, f glossa.DataManagerFilter) ([]filterSQL, error) {
	v, _ := decodeJSON(f.Value)
	const states = `"accepted", "rejected" or "none"`
	switch f.Operator {
	case "equal", "not_equal":
		s, ok := reviewStateValue(v)
		if !ok {
			return nil, badValue(c, f.Operator, states)
		}
		return []filterSQL{{"t.review_state " + comparisons[f.Operator] + " ?", []any{s}}}, nil
	case "in", "not_in":
		list, ok := v.([]any)
		if !ok || len(list) > 3 {
			return nil, badValue(c, f.Operator, "a list of "+states)
		}
		var conds []string
		var args []any
		for _, e := range list {
			s, ok := reviewStateValue(e)
			if !ok {
				return nil, badValue(c, f.Operator, "a list of "+states)
			}
			conds, args = append(conds, "?"), append(args, s)
		}
		if len(conds) == 0 {
			return []filterSQL{always(f.Operator == "not_in")}, nil
		}
		cond := "t.review_state IN (" + strings.Join(conds, ", ") + ")"
		if f.Operator == "not_in" {
			cond = "t.review_state NOT IN (" + strings.Join(conds, ", ") + ")"
		}
		return []filterSQL{{cond, args}}, nil
	case "empty":
		b, ok := v.(bool)
		if !ok {
			return nil, badValue(c, f.Operator, "true or false")
		}
		return []filterSQL{{"t.review_state " + map[bool]string{true: "=", false: "<>"}[b] + " ''", nil}}, nil
	}
	return nil, badOperator(c, f.Operator, opsReview)
}

// annotatorsFilter: see the cost notes at the top of this file. When the
// people's tasks are few, it returns them as a filter on IDs, idList.
func (db *DB) annotatorsFilter(ctx context.Context, c conn, q glossa.DataManagerQuery, col dmColumn, f glossa.DataManagerFilter) (fs []filterSQL, idList *dmFilter, err error) {
	v, _ := decodeJSON(f.Value)
	switch f.Operator {
	case "empty":
		b, ok := v.(bool)
		if !ok {
			return nil, nil, badValue(col, f.Operator, "true or false")
		}
		return []filterSQL{{probe("annotations a WHERE a.task_id = t.id", !b), nil}}, nil, nil
	case "in", "not_in":
	default:
		return nil, nil, badOperator(col, f.Operator, opsAnnotators)
	}
	not := f.Operator == "not_in"
	list, ok := v.([]any)
	if !ok || len(list) > maxFilterList {
		return nil, nil, badValue(col, f.Operator, "a list of user IDs")
	}
	users := make([]int64, 0, len(list))
	for _, e := range list {
		id, ok := wholeNumber(e)
		if !ok {
			return nil, nil, badValue(col, f.Operator, "a list of user IDs")
		}
		users = append(users, id)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	if len(users) == 0 {
		return []filterSQL{always(not)}, nil, nil
	}
	in, inArgs := db.inInts("completed_by", users)
	rows, err := c.query(ctx, "SELECT task_id FROM annotations WHERE "+in+" AND project_id = ? AND org_id = ? LIMIT ?",
		append(inArgs, q.ProjectID, q.OrgID, annotatorListMax+1)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var tasks []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(tasks) <= annotatorListMax {
		slices.Sort(tasks)
		return nil, &dmFilter{filterSQL: db.inIntsFilter("t.id", slices.Compact(tasks), not), col: "id", point: !not}, nil
	}
	in, inArgs = db.inInts("a.completed_by", users)
	f2 := dmFilter{filterSQL: filterSQL{probe("annotations a WHERE a.task_id = t.id AND a.project_id = t.project_id AND "+in, !not), inArgs}}
	if !not && len(users) == 1 {
		f2.author = users[0]
	}
	return nil, &f2, nil
}

// probe is the condition that the rows of from (a table and a WHERE
// correlated with tasks t) exist, or do not. It is a scalar subquery with
// LIMIT 1 rather than EXISTS so that PostgreSQL cannot turn it into a
// join: the scans it is part of stop once a page (or one task) is found,
// so an index probe per task they pass is the right cost, while a semi-
// or anti-join would first read every matching row of the project (every
// annotation of an active annotator: hundreds of thousands), whatever the
// statistics say. SQLite runs any correlated subquery per row anyway.
func probe(from string, exists bool) string {
	if exists {
		return "(SELECT 1 FROM " + from + " LIMIT 1) IS NOT NULL"
	}
	return "(SELECT 1 FROM " + from + " LIMIT 1) IS NULL"
}

// dataField is the SQL that reads field key of a task's data: value (an
// SQL value on SQLite, jsonb on PostgreSQL), its JSON type, and its text;
// each takes arg as its one argument.
type dataField struct {
	value, typ, text string
	arg              any
	// placeholder is how a value to compare with value is written.
	placeholder string
}

func (db *DB) dataField(key string) dataField {
	if db.dialect == Postgres {
		return dataField{
			value:       "(t.data::jsonb -> ?::text)",
			typ:         "jsonb_typeof(t.data::jsonb -> ?::text)",
			text:        "(t.data::jsonb ->> ?::text)",
			arg:         key,
			placeholder: "?::jsonb",
		}
	}
	return dataField{
		value:       "json_extract(t.data, ?)",
		typ:         "json_type(t.data, ?)",
		text:        "json_extract(t.data, ?)",
		arg:         `$."` + key + `"`,
		placeholder: "?",
	}
}

func (db *DB) dataFilter(c dmColumn, f glossa.DataManagerFilter) ([]filterSQL, error) {
	d := db.dataField(c.key)
	v, _ := decodeJSON(f.Value)
	notNull := func(cond string, args []any) []filterSQL {
		return []filterSQL{{"NOT COALESCE(" + cond + ", FALSE)", args}}
	}
	switch f.Operator {
	case "equal", "not_equal":
		cond, args, ok := db.dataEqual(d, v)
		if !ok {
			return nil, badValue(c, f.Operator, "a string, number, boolean or null")
		}
		if f.Operator == "not_equal" {
			return notNull(cond, args), nil
		}
		return []filterSQL{{cond, args}}, nil
	case "less", "greater", "less_or_equal", "greater_or_equal":
		op := comparisons[f.Operator]
		var typ string
		var arg any
		switch v := v.(type) {
		case json.Number:
			n, ok := sqliteNumber(v)
			if !ok {
				return nil, badValue(c, f.Operator, "a number or a string")
			}
			typ, arg = "('integer', 'real')", n
			if db.dialect == Postgres {
				typ, arg = "('number')", v.String()
			}
		case string:
			typ, arg = "('text')", v
			if db.dialect == Postgres {
				raw, _ := json.Marshal(v)
				typ, arg = "('string')", string(raw)
			}
		default:
			return nil, badValue(c, f.Operator, "a number or a string")
		}
		return []filterSQL{{"(" + d.typ + " IN " + typ + " AND " + d.value + " " + op + " " + d.placeholder + ")",
			[]any{d.arg, d.arg, arg}}}, nil
	case "contains", "not_contains":
		s, ok := v.(string)
		if !ok {
			return nil, badValue(c, f.Operator, "a string")
		}
		find := "instr(lower(" + d.text + "), lower(?)) > 0"
		if db.dialect == Postgres {
			find = "strpos(lower(" + d.text + "), lower(?::text)) > 0"
		}
		if f.Operator == "not_contains" {
			return notNull(find, []any{d.arg, s}), nil
		}
		return []filterSQL{{find, []any{d.arg, s}}}, nil
	case "empty":
		b, ok := v.(bool)
		if !ok {
			return nil, badValue(c, f.Operator, "true or false")
		}
		cond := "COALESCE(" + d.text + ", '') = ''"
		if !b {
			cond = "NOT (" + cond + ")"
		}
		return []filterSQL{{cond, []any{d.arg}}}, nil
	}
	return nil, badOperator(c, f.Operator, opsData)
}

// dataEqual is the condition "field equals v", by JSON type and value.
// On PostgreSQL that is jsonb equality; on SQLite, whose json_extract
// turns true into 1 and a string "5" and a number 5 into values that
// compare by their SQL type, the JSON type is checked too.
func (db *DB) dataEqual(d dataField, v any) (string, []any, bool) {
	if db.dialect == Postgres {
		var raw string
		switch v := v.(type) {
		case json.Number:
			raw = v.String()
		case string, bool, nil:
			b, _ := json.Marshal(v)
			raw = string(b)
		default:
			return "", nil, false
		}
		return d.value + " = ?::jsonb", []any{d.arg, raw}, true
	}
	switch v := v.(type) {
	case string:
		return "(" + d.typ + " = 'text' AND " + d.value + " = ?)", []any{d.arg, d.arg, v}, true
	case json.Number:
		n, ok := sqliteNumber(v)
		if !ok {
			return "", nil, false
		}
		return "(" + d.typ + " IN ('integer', 'real') AND " + d.value + " = ?)", []any{d.arg, d.arg, n}, true
	case bool:
		return d.typ + " = '" + strconv.FormatBool(v) + "'", []any{d.arg}, true
	case nil:
		return d.typ + " = 'null'", []any{d.arg}, true
	}
	return "", nil, false
}

// dmCursor is what a cursor carries: which query it belongs to, the last
// row's sort value and ID, and the total counted for the first page.
type dmCursor struct {
	Query   string          `json:"q"`
	ID      int64           `json:"id"`
	Value   json.RawMessage `json:"v,omitempty"`
	Null    bool            `json:"null,omitempty"`  // the sort value is SQL NULL (data.<key> only)
	Float   bool            `json:"float,omitempty"` // the sort value is REAL (data.<key> on SQLite)
	Total   int64           `json:"total"`
	AtLeast bool            `json:"at_least,omitempty"`
}

// The cursor is base64url-encoded JSON. It is not signed: what it holds
// only positions a page within the caller's own organization's tasks
// (every query names the organization), so forging one gains nothing
// beyond a wrong total; malformed ones are EINVALID.
func encodeCursor(c dmCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = glossa.Errorf(glossa.EINVALID, "The cursor is not valid: start again from the first page.")

func decodeCursor(s, fingerprint string) (*dmCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	var c dmCursor
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&c); err != nil || c.ID <= 0 {
		return nil, errBadCursor
	}
	if c.Query != fingerprint {
		return nil, glossa.Errorf(glossa.EINVALID, "The cursor belongs to another query (its filters, order or visibility changed): start again from the first page.")
	}
	return &c, nil
}

// fingerprint identifies what a cursor's position and total depend on.
func fingerprint(q glossa.DataManagerQuery, order glossa.DataManagerColumn) string {
	b, _ := json.Marshal(struct {
		P int64
		O glossa.DataManagerColumn
		D bool
		F []glossa.DataManagerFilter
		V *glossa.TaskVisibility
	}{q.ProjectID, order, q.Descending, q.Filters, q.Visibility})
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// sortKey is the sort of a query: the expression and how to read, store
// and compare its value.
type sortKey struct {
	col  dmColumn
	expr string // "" for id
	arg  any    // the expression's argument (data.<key>), or nil
}

// QueryTasks returns one page of the data manager: the tasks of project
// q.ProjectID of q.OrgID that every filter matches and q.Visibility shows,
// sorted by q.OrderBy then id, after the cursor's row. See the notes at
// the top of this file for what each kind of query costs, and
// glossa.DataManagerPage for the total.
func (db *DB) QueryTasks(ctx context.Context, q glossa.DataManagerQuery) (*glossa.DataManagerPage, error) {
	const op = "store.QueryTasks"
	r := db.reader()
	var taskCount int64
	err := r.queryRow(ctx, "SELECT task_count FROM projects WHERE org_id = ? AND id = ?", q.OrgID, q.ProjectID).Scan(&taskCount)
	if err != nil {
		return nil, dbError(op, notFoundIfNoRows(err, "Project"))
	}
	dq, err := db.compileQuery(ctx, r, q)
	if err != nil {
		return nil, dbError(op, err)
	}
	page := &glossa.DataManagerPage{Rows: []glossa.TaskRow{}}
	if dq.cur != nil {
		page.Total, page.TotalAtLeast = dq.cur.Total, dq.cur.AtLeast
	} else if page.Total, page.TotalAtLeast, err = db.dataManagerTotal(ctx, q, taskCount, dq); err != nil {
		return nil, dbError(op, err)
	}
	var values []sortValue
	for _, part := range dq.pages {
		if err := db.readPage(ctx, part, dq, page, &values); err != nil {
			return nil, dbError(op, err)
		}
		if len(page.Rows) > dq.limit {
			break
		}
	}
	if len(page.Rows) > dq.limit {
		// The row after the page says there is a next page.
		page.Rows = page.Rows[:dq.limit]
		page.NextCursor, err = db.nextCursor(dq.sk, &page.Rows[dq.limit-1], values[dq.limit-1], dq.fingerprint, page)
		if err != nil {
			return nil, dbError(op, err)
		}
	}
	if err := db.pageAnnotators(ctx, q.OrgID, page.Rows); err != nil {
		return nil, dbError(op, err)
	}
	return page, nil
}

// readPage runs one part of a page's query for the rows still wanted
// (up to one past the limit) and appends them, and their data.<key> sort
// values, to page and values.
func (db *DB) readPage(ctx context.Context, part filterSQL, dq *dmQuery, page *glossa.DataManagerPage, values *[]sortValue) error {
	rows, err := db.reader().query(ctx, part.cond, append(slices.Clone(part.args), dq.limit+1-len(page.Rows))...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var row glossa.TaskRow
		var state string
		var sv sortValue
		extra := []any{&state}
		if dq.sk.col.kind == kindData {
			if db.dialect == Postgres {
				extra = append(extra, &sv.json)
			} else {
				extra = append(extra, &sv.sqlite)
			}
		}
		t, err := scanTask(extraScan{rows, extra})
		if err != nil {
			return err
		}
		row.Task, row.ReviewState, row.Annotators = *t, glossa.ReviewState(state), []int64{}
		page.Rows, *values = append(page.Rows, row), append(*values, sv)
	}
	return rows.Err()
}

// dmQuery is a data manager query turned into SQL.
type dmQuery struct {
	sk          sortKey
	cur         *dmCursor // nil on the first page
	fingerprint string
	limit       int
	// where selects the matching tasks (t); filtered says whether a filter
	// is among its conditions. pageWhere is where with the columns that
	// should not drive a page's scan unindexed (see sqliteUnindexed).
	where     []string
	pageWhere []string
	whereArgs []any
	filtered  bool
	// count counts the matching tasks, up to one past the count limit.
	count filterSQL
	// pages select the page's rows: the task columns, t.review_state and,
	// for a data.<key> sort, the sort value. They run in order until they
	// have found one row more than the limit; each ends in LIMIT ?, whose
	// argument (the rows still wanted) is added when it runs.
	pages []filterSQL
}

// compileQuery validates q and builds its SQL.
func (db *DB) compileQuery(ctx context.Context, r conn, q glossa.DataManagerQuery) (*dmQuery, error) {
	order := q.OrderBy
	if order == "" {
		order = glossa.ColumnID
	}
	col, err := parseColumn(order)
	if err != nil {
		return nil, err
	}
	if col.kind == kindAnnotators {
		return nil, glossa.Errorf(glossa.EINVALID, "Tasks cannot be sorted by annotators: sort by another column.")
	}
	dq := &dmQuery{sk: sortKey{col: col}, fingerprint: fingerprint(q, order), limit: pageLimit(q.Limit)}
	switch col.kind {
	case kindInt, kindTime, kindReview:
		dq.sk.expr = "t." + col.col
	case kindData:
		d := db.dataField(col.key)
		dq.sk.expr, dq.sk.arg = d.value, d.arg
	}
	if q.Cursor != "" {
		if dq.cur, err = decodeCursor(q.Cursor, dq.fingerprint); err != nil {
			return nil, err
		}
	}
	filters, err := db.compileFilters(ctx, r, q)
	if err != nil {
		return nil, err
	}
	match, p := db.projectMatch(q.ProjectID)
	dq.where, dq.whereArgs, dq.filtered = []string{"t." + match, "t.org_id = ?"}, []any{p, q.OrgID}, len(filters) > 0
	dq.pageWhere = slices.Clone(dq.where)
	for _, f := range filters {
		dq.where, dq.whereArgs = append(dq.where, f.cond), append(dq.whereArgs, f.args...)
		cond := f.cond
		if db.dialect == SQLite && sqliteUnindexed(f, dq.sk) {
			cond = strings.ReplaceAll(cond, "t."+f.col, "+t."+f.col)
		}
		dq.pageWhere = append(dq.pageWhere, cond)
	}
	hidden, hiddenArgs := visibilityCondition(q.Visibility)
	if hidden != "" {
		cond := probe("storage_links l WHERE l.task_id = t.id AND ("+hidden+")", false)
		dq.where, dq.pageWhere = append(dq.where, cond), append(dq.pageWhere, cond)
		dq.whereArgs = append(dq.whereArgs, hiddenArgs...)
	}
	dq.count = filterSQL{"SELECT COUNT(*) FROM (SELECT 1 FROM tasks t WHERE " + strings.Join(dq.where, " AND ") + " LIMIT ?) c",
		append(slices.Clone(dq.whereArgs), glossa.DataManagerCountLimit+1)}
	if len(filters) == 1 && filters[0].author != 0 && hidden == "" {
		// Tasks annotated by one person who annotated many: the count
		// probes their annotations once per task it passes, some 30,000
		// probes for a person with a third of the tasks. Their distinct
		// task IDs, in order from the index on annotations (completed_by,
		// project_id, task_id), come to the same number for a tenth of
		// the reads.
		dq.count = filterSQL{`SELECT COUNT(*) FROM (SELECT DISTINCT task_id FROM annotations
			WHERE completed_by = ? AND project_id = ? AND org_id = ? ORDER BY task_id LIMIT ?) c`,
			[]any{filters[0].author, q.ProjectID, q.OrgID, glossa.DataManagerCountLimit + 1}}
	}

	after := []filterSQL{{}}
	if dq.cur != nil {
		if after, err = db.keyset(dq.sk, dq.cur, q.Descending); err != nil {
			return nil, err
		}
	}
	// The order starts with project_id for PostgreSQL's sake (see
	// projectMatch); the direction is the same on every column, so that
	// one index serves it forwards or backwards.
	dir, nulls := " ASC", " NULLS FIRST"
	if q.Descending {
		dir, nulls = " DESC", " NULLS LAST"
	}
	for _, a := range after {
		// SELECT columns [, sort value] FROM tasks t WHERE ... [AND after] ORDER BY ... LIMIT ?
		var b strings.Builder
		var args []any
		b.WriteString("SELECT " + qualify("t", taskColumns) + ", t.review_state")
		if col.kind == kindData {
			b.WriteString(", " + dq.sk.expr)
			args = append(args, dq.sk.arg)
		}
		// The cursor's conditions come right after the project's: given
		// two lower (or upper) bounds on one column, SQLite seeks on the
		// first it reads, and the cursor's is the tighter.
		b.WriteString(" FROM tasks t WHERE " + strings.Join(dq.pageWhere[:2], " AND "))
		args = append(args, dq.whereArgs[:2]...)
		if a.cond != "" {
			b.WriteString(" AND " + a.cond)
			args = append(args, a.args...)
		}
		for _, w := range dq.pageWhere[2:] {
			b.WriteString(" AND " + w)
		}
		args = append(args, dq.whereArgs[2:]...)
		b.WriteString(" ORDER BY t.project_id" + dir)
		switch {
		case col.kind == kindData:
			b.WriteString(", " + dq.sk.expr + dir + nulls)
			args = append(args, dq.sk.arg)
		case dq.sk.expr != "":
			b.WriteString(", " + dq.sk.expr + dir)
		}
		b.WriteString(", t.id" + dir + " LIMIT ?")
		dq.pages = append(dq.pages, filterSQL{b.String(), args})
	}
	return dq, nil
}

// extraScan scans a row into a task's columns followed by extra ones.
type extraScan struct {
	s     interface{ Scan(...any) error }
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.s.Scan(append(dest, e.extra...)...) }

// sortValue is a data.<key> sort value as read: jsonb text on PostgreSQL,
// an SQL value on SQLite.
type sortValue struct {
	json   sql.NullString
	sqlite any
}

// dataManagerTotal counts the tasks a query matches (see
// glossa.DataManagerPage).
func (db *DB) dataManagerTotal(ctx context.Context, q glossa.DataManagerQuery, taskCount int64, dq *dmQuery) (int64, bool, error) {
	r := db.reader()
	if !dq.filtered {
		hidden, hiddenArgs := visibilityCondition(q.Visibility)
		if hidden == "" {
			return taskCount, false, nil
		}
		// As FindTasks: subtract the person's hidden tasks, counted over
		// the links of the storages that hide them.
		var n int64
		err := r.queryRow(ctx, "SELECT COUNT(*) FROM storage_links l JOIN tasks t ON t.id = l.task_id WHERE l.org_id = ? AND t.project_id = ? AND ("+hidden+")",
			append([]any{q.OrgID, q.ProjectID}, hiddenArgs...)...).Scan(&n)
		return taskCount - n, false, err
	}
	var n int64
	if err := r.queryRow(ctx, dq.count.cond, dq.count.args...).Scan(&n); err != nil {
		return 0, false, err
	}
	if n > glossa.DataManagerCountLimit {
		return glossa.DataManagerCountLimit, true, nil
	}
	return n, false, nil
}

// nextCursor encodes the position after row t, whose data.<key> sort
// value (if that is the sort) is sv.
func (db *DB) nextCursor(sk sortKey, t *glossa.TaskRow, sv sortValue, fp string, page *glossa.DataManagerPage) (string, error) {
	c := dmCursor{Query: fp, ID: t.ID, Total: page.Total, AtLeast: page.TotalAtLeast}
	var v any
	switch sk.col.kind {
	case kindInt:
		if sk.col.col == string(glossa.ColumnAnnotations) {
			v = t.TotalAnnotations
		} else {
			v = t.TotalPredictions
		}
	case kindTime:
		if sk.col.col == string(glossa.ColumnCreatedAt) {
			v = t.CreatedAt.Format(time.RFC3339Nano)
		} else {
			v = t.UpdatedAt.Format(time.RFC3339Nano)
		}
	case kindReview:
		v = string(t.ReviewState)
	case kindData:
		if db.dialect == Postgres {
			if !sv.json.Valid {
				c.Null = true
			} else {
				c.Value = json.RawMessage(sv.json.String)
			}
			break
		}
		switch x := sv.sqlite.(type) {
		case nil:
			c.Null = true
		case int64:
			v = x
		case float64:
			v, c.Float = x, true
		case string:
			v = x
		case []byte:
			v = string(x)
		default:
			return "", fmt.Errorf("unexpected sort value %T", x)
		}
	}
	if v != nil {
		raw, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		c.Value = raw
	}
	return encodeCursor(c), nil
}

// keyset returns the conditions that select the rows after the cursor's,
// in the query's order: one, or two whose rows come one after the other
// (all of the first's before any of the second's).
//
// For id it is id > last (or <). For a task column it is the row-value
// comparison (column, id) > (last value, last id), which PostgreSQL turns
// into the start of its index range on (project_id, column, id); SQLite
// seeks on the column alone and would filter its way through every row
// that shares the last value (at a million tasks imported at once, every
// created_at is the same), so there it is two ranges that each seek on
// every column: column = last value AND id > last id, then column > last
// value. A data.<key> value may be NULL (the field is missing), which
// sorts first ascending and last descending; no index serves it, and the
// condition is spelled out.
func (db *DB) keyset(sk sortKey, c *dmCursor, desc bool) ([]filterSQL, error) {
	cmp := ">"
	if desc {
		cmp = "<"
	}
	if sk.col.kind == kindID {
		return []filterSQL{{"t.id " + cmp + " ?", []any{c.ID}}}, nil
	}
	var v any
	if !c.Null {
		var err error
		if v, err = db.cursorValue(sk.col, c); err != nil {
			return nil, err
		}
	} else if sk.col.kind != kindData {
		return nil, errBadCursor
	}
	if sk.col.kind != kindData {
		if db.dialect == Postgres {
			return []filterSQL{{"(" + sk.expr + ", t.id) " + cmp + " (?, ?)", []any{v, c.ID}}}, nil
		}
		return []filterSQL{
			{sk.expr + " = ? AND t.id " + cmp + " ?", []any{v, c.ID}},
			{sk.expr + " " + cmp + " ?", []any{v}},
		}, nil
	}
	e, a, ph := sk.expr, sk.arg, db.dataField(sk.col.key).placeholder
	var f filterSQL
	switch {
	case !desc && c.Null:
		f = filterSQL{"((" + e + " IS NULL AND t.id > ?) OR " + e + " IS NOT NULL)", []any{a, c.ID, a}}
	case !desc:
		f = filterSQL{"(" + e + " > " + ph + " OR (" + e + " = " + ph + " AND t.id > ?))", []any{a, v, a, v, c.ID}}
	case c.Null:
		f = filterSQL{"(" + e + " IS NULL AND t.id < ?)", []any{a, c.ID}}
	default:
		f = filterSQL{"(" + e + " < " + ph + " OR (" + e + " = " + ph + " AND t.id < ?) OR " + e + " IS NULL)", []any{a, v, a, v, c.ID, a}}
	}
	return []filterSQL{f}, nil
}

// cursorValue turns the cursor's sort value back into a query argument.
func (db *DB) cursorValue(col dmColumn, c *dmCursor) (any, error) {
	if col.kind == kindData && db.dialect == Postgres {
		if !json.Valid(c.Value) {
			return nil, errBadCursor
		}
		return string(c.Value), nil
	}
	v, ok := decodeJSON(c.Value)
	if !ok {
		return nil, errBadCursor
	}
	switch col.kind {
	case kindInt:
		if n, ok := wholeNumber(v); ok {
			return n, nil
		}
	case kindTime:
		if t, ok := parseFilterTime(v); ok {
			return db.timeValue(t), nil
		}
	case kindReview:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kindData:
		switch v := v.(type) {
		case string:
			return v, nil
		case json.Number:
			if c.Float {
				if f, err := v.Float64(); err == nil {
					return f, nil
				}
			} else if n, err := v.Int64(); err == nil {
				return n, nil
			}
		}
	}
	return nil, errBadCursor
}

// pageAnnotators fills in the annotators of a page's tasks, in the order
// of their first annotation, from the index on annotations (task_id, id).
func (db *DB) pageAnnotators(ctx context.Context, orgID int64, rows []glossa.TaskRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	byID := make(map[int64]*glossa.TaskRow, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
		byID[rows[i].ID] = &rows[i]
	}
	in, args := db.inInts("task_id", ids)
	res, err := db.reader().query(ctx, "SELECT task_id, completed_by FROM annotations WHERE org_id = ? AND "+in+" ORDER BY task_id, id",
		append([]any{orgID}, args...)...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var task, user int64
		if err := res.Scan(&task, &user); err != nil {
			return err
		}
		if row := byID[task]; row != nil && !slices.Contains(row.Annotators, user) {
			row.Annotators = append(row.Annotators, user)
		}
	}
	return res.Err()
}
