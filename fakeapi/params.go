package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file parses the parameters of a list (and the select of a get),
// as the Arvados SDKs send them: one form value per parameter, arrays and
// objects JSON-encoded, strings and numbers as they are (the Go SDK) or
// JSON-encoded (other clients).

// List limits, as Arvados' API.MaxItemsPerResponse default and the
// server's default page.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// listParams is a parsed list request.
type listParams struct {
	filters []cond
	order   []orderKey
	// sel is the select: the attributes each item holds; nil means all.
	sel    []*attr
	limit  int
	offset int
	// count is false for count=none: items_available is left out.
	count bool
}

// cond is one filter: attr op operand.
type cond struct {
	attr *attr
	op   string
	// operand is the right-hand side of a comparison.
	operand scalar
	// set is the right-hand side of "in" and "not in".
	set []scalar
}

// orderKey is one key of an order.
type orderKey struct {
	attr *attr
	desc bool
}

// errParam is the refusal of a malformed parameter. Arvados answers 422
// for these (an ArgumentError) and names the parameter.
func errParam(param, format string, args ...any) *Error {
	return errUnprocessable("Invalid %s parameter: %s", param, fmt.Sprintf(format, args...))
}

// parseListParams parses a list request's parameters.
func parseListParams(form url.Values) (listParams, error) {
	p := listParams{limit: DefaultListLimit, count: true}
	var err error
	if p.filters, err = parseFilters(form.Get("filters")); err != nil {
		return p, err
	}
	if p.order, err = parseOrder(form.Get("order")); err != nil {
		return p, err
	}
	if p.sel, err = parseSelect(form.Get("select")); err != nil {
		return p, err
	}
	if v := form.Get("limit"); v != "" {
		if p.limit, err = parseCount("limit", v); err != nil {
			return p, err
		}
		// Arvados caps a page silently rather than refusing.
		p.limit = min(p.limit, MaxListLimit)
	}
	if v := form.Get("offset"); v != "" {
		if p.offset, err = parseCount("offset", v); err != nil {
			return p, err
		}
	}
	switch v, err := stringParam("count", form.Get("count")); {
	case err != nil:
		return p, err
	case v == "none":
		p.count = false
	case v != "" && v != "exact":
		return p, errParam("count", "%q is not \"exact\" or \"none\"", v)
	}
	return p, nil
}

// decodeJSON decodes a parameter's JSON text, keeping numbers exact.
func decodeJSON(param, text string, v any) error {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return errParam(param, "%v", err)
	}
	if d.More() {
		return errParam(param, "trailing data after JSON value")
	}
	return nil
}

// stringParam returns a string parameter, sent bare or JSON-encoded.
func stringParam(param, text string) (string, error) {
	if !strings.HasPrefix(text, `"`) {
		return text, nil
	}
	var s string
	err := decodeJSON(param, text, &s)
	return s, err
}

// parseCount parses limit or offset: an integer, at least 0.
func parseCount(param, text string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 {
		return 0, errParam(param, "%q is not an integer >= 0", text)
	}
	return int(min(n, math.MaxInt32)), nil
}

// attrParam finds the attribute an order or filter names, which Arvados
// also accepts prefixed with the table name.
func attrParam(param, name string, needScalar bool) (*attr, error) {
	a := attrByName[strings.TrimPrefix(name, "containers.")]
	switch {
	case a == nil:
		return nil, errParam(param, "unknown attribute %q", name)
	case needScalar && a.kind == kindObject:
		return nil, errParam(param, "attribute %q is not a scalar", name)
	}
	return a, nil
}

// parseSelect parses select: a JSON array of attribute names. An empty
// array selects everything.
func parseSelect(text string) ([]*attr, error) {
	if text == "" {
		return nil, nil
	}
	var names []string
	if err := decodeJSON("select", text, &names); err != nil {
		return nil, err
	}
	var sel []*attr
	for _, name := range names {
		a, err := attrParam("select", name, false)
		if err != nil {
			return nil, err
		}
		if !containsAttr(sel, a) {
			sel = append(sel, a)
		}
	}
	return sel, nil
}

func containsAttr(as []*attr, a *attr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// parseOrder parses order: a JSON array of keys, or one string of
// comma-separated keys (bare or JSON-encoded); a key is "attr",
// "attr asc" or "attr desc".
func parseOrder(text string) ([]orderKey, error) {
	var keys []string
	switch {
	case text == "":
		return nil, nil
	case strings.HasPrefix(text, "["):
		if err := decodeJSON("order", text, &keys); err != nil {
			return nil, err
		}
	default:
		s, err := stringParam("order", text)
		if err != nil {
			return nil, err
		}
		keys = strings.Split(s, ",")
	}
	var order []orderKey
	for _, key := range keys {
		words := strings.Fields(key)
		if len(words) == 0 || len(words) > 2 {
			return nil, errParam("order", "%q is not \"attribute [asc|desc]\"", key)
		}
		a, err := attrParam("order", words[0], true)
		if err != nil {
			return nil, err
		}
		k := orderKey{attr: a}
		if len(words) == 2 {
			switch strings.ToLower(words[1]) {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, errParam("order", "direction %q is not asc or desc", words[1])
			}
		}
		order = append(order, k)
	}
	return order, nil
}

// parseFilters parses filters: a JSON array of [attribute, operator,
// operand] triples.
func parseFilters(text string) ([]cond, error) {
	if text == "" {
		return nil, nil
	}
	var raw []any
	if err := decodeJSON("filters", text, &raw); err != nil {
		return nil, err
	}
	conds := make([]cond, 0, len(raw))
	for i, f := range raw {
		c, err := parseFilter(f)
		if err != nil {
			return nil, errParam("filters", "filter %d: %s", i, err)
		}
		conds = append(conds, c)
	}
	return conds, nil
}

func parseFilter(f any) (cond, error) {
	triple, ok := f.([]any)
	if !ok || len(triple) != 3 {
		return cond{}, fmt.Errorf("%s is not an [attribute, operator, operand] triple", jsonText(f))
	}
	name, ok1 := triple[0].(string)
	op, ok2 := triple[1].(string)
	if !ok1 || !ok2 {
		return cond{}, fmt.Errorf("attribute and operator must be strings in %s", jsonText(f))
	}
	a := attrByName[strings.TrimPrefix(name, "containers.")]
	switch {
	case a == nil:
		return cond{}, fmt.Errorf("unknown attribute %q", name)
	case a.kind == kindObject:
		return cond{}, fmt.Errorf("attribute %q is not a scalar", name)
	}
	c := cond{attr: a, op: strings.ToLower(op)}
	switch c.op {
	case "=", "!=":
		v, err := operand(a, triple[2])
		c.operand = v
		return c, err
	case "<", "<=", ">", ">=":
		v, err := operand(a, triple[2])
		if err == nil && v.null {
			err = fmt.Errorf("operator %q needs a non-null operand", op)
		}
		c.operand = v
		return c, err
	case "in", "not in":
		list, ok := triple[2].([]any)
		if !ok {
			return cond{}, fmt.Errorf("operator %q needs an array operand, not %s", op, jsonText(triple[2]))
		}
		// Not nil: "in []" is a set that matches nothing.
		c.set = make([]scalar, 0, len(list))
		for _, e := range list {
			v, err := operand(a, e)
			if err != nil {
				return cond{}, err
			}
			c.set = append(c.set, v)
		}
		return c, nil
	default:
		return cond{}, fmt.Errorf("unsupported operator %q", op)
	}
}

// operand converts a filter operand for attribute a; null is allowed
// and checked by the caller.
func operand(a *attr, v any) (scalar, error) {
	if v == nil {
		return scalar{null: true}, nil
	}
	bad := func() (scalar, error) {
		return scalar{}, fmt.Errorf("operand %s does not fit attribute %q", jsonText(v), a.name)
	}
	switch a.kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		return scalar{s: s}, nil
	case kindNumber:
		num, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		n, err := num.Float64()
		if err != nil {
			return bad()
		}
		return scalar{n: n}, nil
	default:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad()
		}
		return scalar{t: t}, nil
	}
}

// jsonText shows a decoded JSON value in an error message.
func jsonText(v any) string {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}
