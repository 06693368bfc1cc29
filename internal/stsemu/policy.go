package stsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file evaluates role trust policies for AssumeRoleWithSAML (reference
// §8, §15 item 10): Principal.Federated, Action (with NotAction), and
// Condition blocks over the saml:*, aws:* and sts:* keys of the request, with
// the string operators, IfExists, Null and the ForAllValues:/ForAnyValue:
// set qualifiers. Several statements combine as IAM combines them: the
// request is allowed when some Allow statement matches and no Deny statement
// does (explicit Deny wins).

// policy is a parsed IAM policy document.
type policy struct {
	statements []statement
}

type statement struct {
	deny       bool
	principals principalSet // nil: no Principal element (session policies)
	actions    []string     // lower-cased patterns
	notAction  bool         // actions are NotAction
	conditions []condition
}

// principalSet is the Principal element: "*" or a map of principal type to
// values.
type principalSet struct {
	any       bool
	federated []string
}

type condition struct {
	op        string // base operator, lower case: "stringequals", "stringlike", "null", ...
	set       string // "", "forallvalues" or "foranyvalue"
	ifExists  bool
	key       string // lower case: condition keys are case-insensitive
	values    []string
	rawOpName string
}

// operators the emulator evaluates, by lower-case name: whether the
// comparison is negated and how one context value is matched.
var operators = map[string]struct {
	negated bool
	match   func(ctx, pol string) bool
}{
	"stringequals":              {false, func(c, p string) bool { return c == p }},
	"stringnotequals":           {true, func(c, p string) bool { return c == p }},
	"stringequalsignorecase":    {false, strings.EqualFold},
	"stringnotequalsignorecase": {true, strings.EqualFold},
	"stringlike":                {false, wildcardMatch},
	"stringnotlike":             {true, wildcardMatch},
	"arnequals":                 {false, wildcardMatch}, // ARN operators match like StringLike
	"arnlike":                   {false, wildcardMatch},
	"arnnotequals":              {true, wildcardMatch},
	"arnnotlike":                {true, wildcardMatch},
	"bool":                      {false, strings.EqualFold},
}

// parsePolicy parses an IAM JSON policy document. It refuses what IAM
// refuses as MalformedPolicyDocument as far as the emulator can tell, and
// what the emulator cannot evaluate (NotPrincipal, numeric and date
// operators), so that a test never silently evaluates a policy it does not
// understand.
func parsePolicy(doc string) (*policy, error) {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the policy")
	}
	if raw.Version != "" && raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, fmt.Errorf("unknown Version %q", raw.Version)
	}
	var rawStatements []map[string]json.RawMessage
	if err := oneOrMany(raw.Statement, &rawStatements); err != nil || len(rawStatements) == 0 {
		return nil, errors.New("Statement must be an object or a non-empty array of objects")
	}
	p := &policy{}
	for i, rs := range rawStatements {
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(rs map[string]json.RawMessage) (statement, error) {
	var st statement
	for k := range rs {
		switch k {
		case "Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "NotPrincipal":
			return st, errors.New("NotPrincipal is not supported by the emulator")
		default:
			return st, fmt.Errorf("unknown element %q", k)
		}
	}
	var effect string
	if err := json.Unmarshal(rs["Effect"], &effect); err != nil || (effect != "Allow" && effect != "Deny") {
		return st, errors.New(`Effect must be "Allow" or "Deny"`)
	}
	st.deny = effect == "Deny"
	if p, ok := rs["Principal"]; ok {
		ps, err := parsePrincipal(p)
		if err != nil {
			return st, err
		}
		st.principals = ps
	}
	actions, hasAction := rs["Action"]
	notActions, hasNotAction := rs["NotAction"]
	if hasAction == hasNotAction {
		return st, errors.New("exactly one of Action and NotAction is required")
	}
	if hasNotAction {
		actions, st.notAction = notActions, true
	}
	var list []string
	if err := oneOrMany(actions, &list); err != nil || len(list) == 0 {
		return st, errors.New("Action must be a string or a non-empty array of strings")
	}
	for _, a := range list {
		st.actions = append(st.actions, strings.ToLower(a))
	}
	if c, ok := rs["Condition"]; ok {
		conds, err := parseConditions(c)
		if err != nil {
			return st, err
		}
		st.conditions = conds
	}
	return st, nil
}

func parsePrincipal(raw json.RawMessage) (principalSet, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return principalSet{}, errors.New(`Principal must be "*" or an object`)
		}
		return principalSet{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return principalSet{}, errors.New(`Principal must be "*" or an object`)
	}
	var ps principalSet
	for typ, v := range m {
		var values []string
		if err := oneOrMany(v, &values); err != nil {
			return ps, fmt.Errorf("Principal.%s must be a string or an array of strings", typ)
		}
		switch typ {
		case "Federated":
			ps.federated = append(ps.federated, values...)
		case "AWS", "Service", "CanonicalUser":
			// Valid, but never the principal of AssumeRoleWithSAML.
		default:
			return ps, fmt.Errorf("unknown principal type %q", typ)
		}
	}
	return ps, nil
}

func parseConditions(raw json.RawMessage) ([]condition, error) {
	var ops map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, errors.New("Condition must map operators to objects of keys")
	}
	var out []condition
	for opName, keys := range ops {
		c := condition{rawOpName: opName}
		name := strings.ToLower(opName)
		if set, rest, ok := strings.Cut(name, ":"); ok {
			if set != "forallvalues" && set != "foranyvalue" {
				return nil, fmt.Errorf("unknown set operator in %q", opName)
			}
			c.set, name = set, rest
		}
		if base, ok := strings.CutSuffix(name, "ifexists"); ok {
			c.ifExists, name = true, base
		}
		if _, ok := operators[name]; !ok && name != "null" {
			return nil, fmt.Errorf("condition operator %q is not supported by the emulator", opName)
		}
		c.op = name
		for key, v := range keys {
			values, err := conditionValues(v)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", opName, key, err)
			}
			cc := c
			cc.key, cc.values = strings.ToLower(key), values
			out = append(out, cc)
		}
	}
	// Map order is random; keep evaluation (and any error) deterministic.
	sort.Slice(out, func(i, j int) bool {
		if out[i].rawOpName != out[j].rawOpName {
			return out[i].rawOpName < out[j].rawOpName
		}
		return out[i].key < out[j].key
	})
	return out, nil
}

// conditionValues reads a condition's value: a string, number or boolean, or
// an array of them, all compared as strings (IAM accepts "true" and true
// alike).
func conditionValues(raw json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		items = []json.RawMessage{raw}
	}
	var out []string
	for _, it := range items {
		var v any
		if err := json.Unmarshal(it, &v); err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case bool:
			out = append(out, strconv.FormatBool(v))
		case float64:
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		default:
			return nil, errors.New("condition values must be strings, numbers or booleans")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty condition value")
	}
	return out, nil
}

// oneOrMany unmarshals a JSON value that IAM allows as one item or an array.
func oneOrMany[T any](raw json.RawMessage, out *[]T) error {
	if len(raw) == 0 {
		return errors.New("missing")
	}
	if err := json.Unmarshal(raw, out); err == nil {
		return nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return err
	}
	*out = []T{one}
	return nil
}

// requestContext is the condition context of a request: lower-case key →
// values (several for multi-valued keys such as saml:edupersonaffiliation).
type requestContext map[string][]string

// allows reports whether the policy allows principal to perform action in
// ctx: some Allow statement matches and no Deny statement does.
func (p *policy) allows(principal, action string, ctx requestContext) bool {
	allowed := false
	for _, st := range p.statements {
		if !st.matches(principal, action, ctx) {
			continue
		}
		if st.deny {
			return false
		}
		allowed = true
	}
	return allowed
}

func (st statement) matches(principal, action string, ctx requestContext) bool {
	if !st.principals.any {
		found := false
		for _, f := range st.principals.federated {
			if f == principal {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	action = strings.ToLower(action)
	hit := false
	for _, pat := range st.actions {
		if wildcardMatch(action, pat) {
			hit = true
			break
		}
	}
	if hit == st.notAction {
		return false
	}
	for _, c := range st.conditions {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

// holds evaluates one operator/key condition (IAM User Guide,
// reference_policies_multi-value-conditions.md):
//   - a key absent from the context makes IfExists conditions true, negated
//     operators true, ForAllValues true and everything else false;
//   - a plain operator on a multi-valued key holds when some value matches
//     (negated: when no value matches);
//   - ForAllValues holds when every context value satisfies the operator,
//     ForAnyValue when at least one does.
func (c condition) holds(ctx requestContext) bool {
	values, present := ctx[c.key]
	if c.op == "null" {
		want := len(c.values) == 1 && strings.EqualFold(c.values[0], "true")
		return want == !present
	}
	op := operators[c.op]
	// satisfies reports whether one context value satisfies the operator.
	satisfies := func(v string) bool {
		m := false
		for _, p := range c.values {
			if op.match(v, p) {
				m = true
				break
			}
		}
		return m != op.negated
	}
	if !present {
		return c.ifExists || c.set == "forallvalues" || (c.set == "" && op.negated)
	}
	switch c.set {
	case "forallvalues":
		for _, v := range values {
			if !satisfies(v) {
				return false
			}
		}
		return true
	case "foranyvalue":
		for _, v := range values {
			if satisfies(v) {
				return true
			}
		}
		return false
	}
	if op.negated {
		for _, v := range values {
			if !satisfies(v) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if satisfies(v) {
			return true
		}
	}
	return false
}

// wildcardMatch reports whether s matches pattern, where * matches any run of
// characters and ? any one character (IAM's StringLike and action matching).
func wildcardMatch(str, pat string) bool {
	// Iterative matcher with single-star backtracking over runes: linear in
	// practice and never exponential.
	s, p := []rune(str), []rune(pat)
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
