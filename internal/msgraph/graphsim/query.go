package graphsim

import (
	"encoding/base64"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// query holds the OData query options of a GET.
type query struct {
	filter  func(map[string]any) bool // nil: everything
	selects map[string]bool           // nil: every property
	expand  map[string]bool           // relation names and "assignments"
	top     int                       // page size; 0: the server's
	after   int64                     // $skiptoken: list objects after this seq
	count   bool
	// orClauses is the most values an "in" of the filter lists: Entra ID
	// counts each as an "or" clause and refuses more than 15 (serveGroups).
	orClauses int
}

// maxTop is Graph's largest page.
const maxTop = 999

// parseQuery reads $filter, $select, $expand, $top, $skiptoken and $count.
// expandable says which names $expand accepts. Options Graph has but the
// simulator does not model ($orderby, $search) are ignored.
func parseQuery(v url.Values, expandable []string) (query, *apiErr) {
	var q query
	if f := v.Get("$filter"); f != "" {
		pred, clauses, err := parseFilter(f)
		if err != nil {
			return q, badRequest("Invalid filter clause: " + err.Error())
		}
		q.filter, q.orClauses = pred, clauses
	}
	if s := v.Get("$select"); s != "" {
		q.selects = map[string]bool{"id": true, "@odata.type": true}
		for _, p := range splitTop(s) {
			q.selects[p] = true
		}
	}
	if e := v.Get("$expand"); e != "" {
		q.expand = map[string]bool{}
		for _, item := range splitTop(e) {
			name := item
			if i := strings.IndexByte(item, '('); i >= 0 {
				name = strings.TrimSpace(item[:i])
			}
			switch {
			case name == "*":
				for _, n := range expandable {
					q.expand[n] = true
				}
			case slices.Contains(expandable, name):
				q.expand[name] = true
			default:
				return q, badRequest("Could not find a navigation property named '" + name + "' to expand.")
			}
		}
	}
	if s := v.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, badRequest("Invalid value for $top: '" + s + "'.")
		}
		q.top = min(n, maxTop)
	}
	if s := v.Get("$skiptoken"); s != "" {
		seq, ok := decodeSkipToken(s)
		if !ok {
			return q, badRequest("Invalid $skiptoken.")
		}
		q.after = seq
	}
	q.count = v.Get("$count") == "true"
	return q, nil
}

// splitTop splits a comma list at depth 0, so nested options such as
// "definitionValues($expand=definition,presentationValues)" stay whole.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		out = append(out, last)
	}
	return out
}

// The skip token is opaque to clients, as Graph's is; it carries the
// insertion sequence of the last object returned, so objects created or
// deleted while a client pages are neither repeated nor skipped.
func encodeSkipToken(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("gs1:" + strconv.FormatInt(seq, 10)))
}

func decodeSkipToken(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, ok := strings.CutPrefix(string(b), "gs1:")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(n, 10, 64)
	return seq, err == nil
}

// listBody is a collection response.
type listBody struct {
	Context  string `json:"@odata.context"`
	Count    *int   `json:"@odata.count,omitempty"`
	Value    []any  `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// page selects the objects of one page after filtering; render turns each
// into its JSON form. The caller holds t.mu.
func page(c *call, objs []*object, q query, pageSize int, render func(*object) map[string]any) listBody {
	size := pageSize
	if q.top > 0 {
		size = q.top
	}
	body := listBody{Context: c.root + "/$metadata#" + c.path, Value: []any{}}
	matched := 0
	var last int64
	more := false
	for _, o := range objs {
		if q.filter != nil && !q.filter(o.props) {
			continue
		}
		matched++
		if o.seq <= q.after {
			continue
		}
		if len(body.Value) == size {
			more = true
			continue
		}
		body.Value = append(body.Value, render(o))
		last = o.seq
	}
	if q.count {
		body.Count = &matched
	}
	if more {
		body.NextLink = c.root + "/" + c.path + "?" + encodeQuery(c.query, "$skiptoken", encodeSkipToken(last))
	}
	return body
}

// encodeQuery re-encodes a query with key set to val, keeping '$' readable
// in option names like Graph's own links ("$skiptoken=", not "%24skiptoken=").
func encodeQuery(v url.Values, key, val string) string {
	keys := make([]string, 0, len(v)+1)
	for k := range v {
		if k != key {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = append(keys, key)
	var b strings.Builder
	for _, k := range keys {
		vals := v[k]
		if k == key {
			vals = []string{val}
		}
		for _, x := range vals {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(strings.ReplaceAll(url.QueryEscape(k), "%24", "$"))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(x))
		}
	}
	return b.String()
}

// applySelect drops the properties $select did not ask for.
func applySelect(m map[string]any, sel map[string]bool) {
	if sel == nil {
		return
	}
	for k := range m {
		if !sel[k] {
			delete(m, k)
		}
	}
}

// ---- $filter ----
//
// The grammar covers what a restore tool sends and a little more:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | func "(" prop "," lit ")" | prop op lit
//	        | prop "in" "(" lit { "," lit } ")"
//	func    = startswith | endswith | contains
//	op      = eq | ne | gt | ge | lt | le
//	lit     = 'text' ('' escapes ') | number | true | false | null
//
// String comparisons ignore case, as Intune's do.

type filterError string

func (e filterError) Error() string { return string(e) }

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, '(' ')' ','
	text string
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{kind: c, text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, filterError("unterminated string")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{kind: 's', text: b.String()})
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] == '.' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{kind: 'n', text: s[i:j]})
			i = j
		case unicode.IsLetter(rune(c)) || c == '@' || c == '_':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.IndexByte("_./@", s[j]) >= 0) {
				j++
			}
			toks = append(toks, token{kind: 'i', text: s[i:j]})
			i = j
		default:
			return nil, filterError("unexpected character " + strconv.QuoteRune(rune(c)))
		}
	}
	return toks, nil
}

type pred = func(map[string]any) bool

type filterParser struct {
	toks []token
	pos  int
	// inValues is the longest "in" list seen.
	inValues int
}

// parseFilter returns the filter's predicate and the length of its longest
// "in" list.
func parseFilter(s string) (pred, int, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, 0, err
	}
	p := &filterParser{toks: toks}
	f, err := p.or()
	if err != nil {
		return nil, 0, err
	}
	if p.pos != len(p.toks) {
		return nil, 0, filterError("unexpected '" + p.toks[p.pos].text + "'")
	}
	return f, p.inValues, nil
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *filterParser) expect(kind byte) (token, error) {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != kind {
		return token{}, filterError("syntax error")
	}
	p.pos++
	return p.toks[p.pos-1], nil
}

func (p *filterParser) or() (pred, error) {
	l, err := p.and()
	for err == nil && p.peekWord("or") {
		p.pos++
		var r pred
		if r, err = p.and(); err == nil {
			a, b := l, r
			l = func(m map[string]any) bool { return a(m) || b(m) }
		}
	}
	return l, err
}

func (p *filterParser) and() (pred, error) {
	l, err := p.unary()
	for err == nil && p.peekWord("and") {
		p.pos++
		var r pred
		if r, err = p.unary(); err == nil {
			a, b := l, r
			l = func(m map[string]any) bool { return a(m) && b(m) }
		}
	}
	return l, err
}

func (p *filterParser) unary() (pred, error) {
	if p.peekWord("not") {
		p.pos++
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(m map[string]any) bool { return !f(m) }, nil
	}
	if p.pos < len(p.toks) && p.toks[p.pos].kind == '(' {
		p.pos++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(')'); err != nil {
			return nil, err
		}
		return f, nil
	}
	for _, fn := range []string{"startswith", "endswith", "contains"} {
		if p.peekWord(fn) && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == '(' {
			p.pos += 2
			prop, err := p.expect('i')
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(','); err != nil {
				return nil, err
			}
			lit, err := p.expect('s')
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(')'); err != nil {
				return nil, err
			}
			want := strings.ToLower(lit.text)
			test := map[string]func(string, string) bool{
				"startswith": strings.HasPrefix, "endswith": strings.HasSuffix, "contains": strings.Contains,
			}[fn]
			return func(m map[string]any) bool {
				s, ok := lookupPath(m, prop.text).(string)
				return ok && test(strings.ToLower(s), want)
			}, nil
		}
	}
	prop, err := p.expect('i')
	if err != nil {
		return nil, err
	}
	op, err := p.expect('i')
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(op.text, "in") {
		return p.in(prop.text)
	}
	if p.pos >= len(p.toks) {
		return nil, filterError("missing operand")
	}
	lit := p.toks[p.pos]
	p.pos++
	want, err := literal(lit)
	if err != nil {
		return nil, err
	}
	cmp, err := comparison(strings.ToLower(op.text))
	if err != nil {
		return nil, err
	}
	return func(m map[string]any) bool { return cmp(lookupPath(m, prop.text), want) }, nil
}

// in parses the list of "prop in ('a', 'b')": true when the property
// equals one of the values (strings ignoring case, as eq).
func (p *filterParser) in(prop string) (pred, error) {
	if _, err := p.expect('('); err != nil {
		return nil, err
	}
	var wants []any
	for {
		if p.pos >= len(p.toks) {
			return nil, filterError("missing operand")
		}
		want, err := literal(p.toks[p.pos])
		if err != nil {
			return nil, err
		}
		p.pos++
		wants = append(wants, want)
		sep, err := p.next()
		if err != nil {
			return nil, err
		}
		if sep.kind == ')' {
			break
		}
		if sep.kind != ',' {
			return nil, filterError("syntax error")
		}
	}
	p.inValues = max(p.inValues, len(wants))
	eq, _ := comparison("eq")
	return func(m map[string]any) bool {
		got := lookupPath(m, prop)
		return slices.ContainsFunc(wants, func(w any) bool { return eq(got, w) })
	}, nil
}

// next consumes any token.
func (p *filterParser) next() (token, error) {
	if p.pos >= len(p.toks) {
		return token{}, filterError("syntax error")
	}
	p.pos++
	return p.toks[p.pos-1], nil
}

func literal(t token) (any, error) {
	switch t.kind {
	case 's':
		return t.text, nil
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, filterError("bad number " + t.text)
		}
		return f, nil
	case 'i':
		switch t.text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
	}
	return nil, filterError("expected a literal, got '" + t.text + "'")
}

// comparison returns the test for op between a property value and a literal.
func comparison(op string) (func(got, want any) bool, error) {
	order := func(got, want any) (int, bool) {
		switch w := want.(type) {
		case float64:
			g, ok := got.(float64)
			if !ok {
				return 0, false
			}
			switch {
			case g < w:
				return -1, true
			case g > w:
				return 1, true
			}
			return 0, true
		case string:
			g, ok := got.(string)
			if !ok {
				return 0, false
			}
			return strings.Compare(strings.ToLower(g), strings.ToLower(w)), true
		}
		return 0, false
	}
	equal := func(got, want any) bool {
		if want == nil {
			return got == nil
		}
		if c, ok := order(got, want); ok {
			return c == 0
		}
		return got == want
	}
	switch op {
	case "eq":
		return equal, nil
	case "ne":
		return func(g, w any) bool { return !equal(g, w) }, nil
	case "gt", "ge", "lt", "le":
		return func(g, w any) bool {
			c, ok := order(g, w)
			if !ok {
				return false
			}
			switch op {
			case "gt":
				return c > 0
			case "ge":
				return c >= 0
			case "lt":
				return c < 0
			}
			return c <= 0
		}, nil
	}
	return nil, filterError("unsupported operator '" + op + "'")
}

// lookupPath reads "a/b" from nested objects.
func lookupPath(m map[string]any, path string) any {
	var v any = m
	for _, part := range strings.Split(path, "/") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[part]
	}
	return v
}
