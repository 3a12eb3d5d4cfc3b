package runner

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Conditions
//
// A node's condition is evaluated once all of its dependencies have ended.
// It combines dependency-status macros, comparisons and boolean operators:
//
//	all_success   every dependency succeeded (the default)
//	all_failed    every dependency failed
//	all_done      every dependency ended (always true once evaluated)
//	one_success   at least one dependency succeeded
//	one_failed    at least one dependency failed
//	one_done      at least one dependency ended (true unless there are none)
//
//	${a:key} == 'value'    comparisons: == != > < >= <=
//	(...) && || !
//
// For the macros a SKIPPED dependency counts as succeeded (Azkaban treats a
// disabled or skipped parent as satisfied) and a FAILED, KILLED or CANCELLED
// dependency counts as failed. A node without dependencies satisfies the all_*
// macros and none of the one_* macros.
//
// Comparison operands are parameter references, quoted strings ('x' or "x"),
// numbers, or the words true and false. Two operands that both parse as
// finite numbers are compared numerically, anything else as strings. A bare
// operand is a boolean: "true" or "false".

// Condition macro names.
const (
	condAllSuccess = "all_success"
	condAllFailed  = "all_failed"
	condAllDone    = "all_done"
	condOneSuccess = "one_success"
	condOneFailed  = "one_failed"
	condOneDone    = "one_done"
)

// condEnv is what a condition is evaluated against.
type condEnv struct {
	deps  []JobStatus
	param func(name string) (string, error)
}

// condExpr is a parsed condition.
type condExpr interface {
	eval(env *condEnv) (bool, error)
}

type (
	orExpr    struct{ l, r condExpr }
	andExpr   struct{ l, r condExpr }
	notExpr   struct{ x condExpr }
	macroExpr struct{ name string }
	boolExpr  struct{ v bool }
	cmpExpr   struct {
		op   string
		l, r operand
	}
	truthExpr struct{ x operand }
)

// operand is a comparison side: a parameter reference or a literal.
type operand struct {
	ref  bool
	text string // the parameter name, or the literal value
}

func (o operand) value(env *condEnv) (string, error) {
	if o.ref {
		return env.param(o.text)
	}
	return o.text, nil
}

func (e orExpr) eval(env *condEnv) (bool, error) {
	l, err := e.l.eval(env)
	if err != nil || l {
		return l, err
	}
	return e.r.eval(env)
}

func (e andExpr) eval(env *condEnv) (bool, error) {
	l, err := e.l.eval(env)
	if err != nil || !l {
		return false, err
	}
	return e.r.eval(env)
}

func (e notExpr) eval(env *condEnv) (bool, error) {
	v, err := e.x.eval(env)
	return !v, err
}

func (e boolExpr) eval(*condEnv) (bool, error) { return e.v, nil }

func (e macroExpr) eval(env *condEnv) (bool, error) {
	var pred func(JobStatus) bool
	all := strings.HasPrefix(e.name, "all_")
	switch e.name {
	case condAllSuccess, condOneSuccess:
		pred = succeeded
	case condAllFailed, condOneFailed:
		pred = failed
	default:
		pred = JobStatus.terminal
	}
	for _, s := range env.deps {
		if pred(s) != all {
			return !all, nil
		}
	}
	return all, nil
}

func (e cmpExpr) eval(env *condEnv) (bool, error) {
	l, err := e.l.value(env)
	if err != nil {
		return false, err
	}
	r, err := e.r.value(env)
	if err != nil {
		return false, err
	}
	var c int
	if lf, ok := number(l); ok {
		if rf, ok := number(r); ok {
			c = cmp.Compare(lf, rf)
		} else {
			c = strings.Compare(l, r)
		}
	} else {
		c = strings.Compare(l, r)
	}
	switch e.op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	default: // ">="
		return c >= 0, nil
	}
}

func (e truthExpr) eval(env *condEnv) (bool, error) {
	v, err := e.x.value(env)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

// number parses s as a finite number.
func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// succeeded reports whether a dependency in status s counts as a success.
func succeeded(s JobStatus) bool { return s == Succeeded || s == Skipped }

// failed reports whether a dependency in status s counts as a failure.
func failed(s JobStatus) bool { return s == Failed || s == Killed || s == Cancelled }

// isDefaultCondition reports whether cond is the default all_success rule,
// under which failed dependencies cancel the node rather than skip it.
func isDefaultCondition(cond string) bool {
	cond = strings.TrimSpace(cond)
	return cond == "" || cond == condAllSuccess
}

// Condition tokens.
type tokenKind int

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokCmp
	tokString
	tokNumber
	tokRef
	tokIdent
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

// lexCondition splits a condition into tokens.
func lexCondition(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(':
			toks = append(toks, token{tokLParen, "(", start})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", start})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, token{tokAnd, "&&", start})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, token{tokOr, "||", start})
			i += 2
		case strings.HasPrefix(s[i:], "=="), strings.HasPrefix(s[i:], "!="),
			strings.HasPrefix(s[i:], ">="), strings.HasPrefix(s[i:], "<="):
			toks = append(toks, token{tokCmp, s[i : i+2], start})
			i += 2
		case c == '>' || c == '<':
			toks = append(toks, token{tokCmp, s[i : i+1], start})
			i++
		case c == '!':
			toks = append(toks, token{tokNot, "!", start})
			i++
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string at offset %d", start)
			}
			toks = append(toks, token{tokString, s[i+1 : i+1+end], start})
			i += end + 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ at offset %d", start)
			}
			ref := s[i : i+end+1]
			if m := paramPattern.FindString(ref); m != ref {
				return nil, fmt.Errorf("invalid parameter reference %s", ref)
			}
			toks = append(toks, token{tokRef, ref[2 : len(ref)-1], start})
			i += end + 1
		case isDigit(c) || ((c == '-' || c == '+' || c == '.') && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && (isDigit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
				i++
			}
			toks = append(toks, token{tokNumber, s[start:i], start})
		case isIdentStart(c):
			for i < len(s) && (isIdentStart(s[i]) || isDigit(s[i]) || s[i] == '.') {
				i++
			}
			toks = append(toks, token{tokIdent, s[start:i], start})
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", c, start)
		}
	}
	return append(toks, token{tokEOF, "", len(s)}), nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseCondition parses a condition expression.
func parseCondition(s string) (condExpr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
	}
	return e, nil
}

type condParser struct {
	toks []token
	i    int
}

func (p *condParser) peek() token { return p.toks[p.i] }

func (p *condParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *condParser) or() (condExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokOr {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *condParser) and() (condExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokAnd {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *condParser) unary() (condExpr, error) {
	if p.peek().kind == tokNot {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (condExpr, error) {
	t := p.peek()
	switch t.kind {
	case tokLParen:
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, fmt.Errorf("missing ')' at offset %d", c.pos)
		}
		return e, nil
	case tokIdent:
		switch t.text {
		case condAllSuccess, condAllFailed, condAllDone, condOneSuccess, condOneFailed, condOneDone:
			p.next()
			return macroExpr{t.text}, nil
		}
		if (t.text == "true" || t.text == "false") && p.toks[p.i+1].kind != tokCmp {
			p.next()
			return boolExpr{t.text == "true"}, nil
		}
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokCmp {
		return truthExpr{l}, nil
	}
	op := p.next().text
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	return cmpExpr{op: op, l: l, r: r}, nil
}

func (p *condParser) operand() (operand, error) {
	t := p.next()
	switch t.kind {
	case tokRef:
		return operand{ref: true, text: t.text}, nil
	case tokString, tokNumber:
		return operand{text: t.text}, nil
	case tokIdent:
		if t.text == "true" || t.text == "false" {
			return operand{text: t.text}, nil
		}
		return operand{}, fmt.Errorf("unknown word %q at offset %d", t.text, t.pos)
	case tokEOF:
		return operand{}, fmt.Errorf("unexpected end of condition")
	}
	return operand{}, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
}
