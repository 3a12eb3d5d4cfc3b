package schedule

import (
	"fmt"
	"strings"
)

// fieldKind identifies one field of a cron expression.
type fieldKind int

const (
	fieldSecond fieldKind = iota
	fieldMinute
	fieldHour
	fieldDayOfMonth
	fieldMonth
	fieldDayOfWeek
	fieldYear
)

var fieldNames = [...]string{
	fieldSecond:     "second",
	fieldMinute:     "minute",
	fieldHour:       "hour",
	fieldDayOfMonth: "day-of-month",
	fieldMonth:      "month",
	fieldDayOfWeek:  "day-of-week",
	fieldYear:       "year",
}

func (k fieldKind) String() string { return fieldNames[k] }

// Years a schedule can fire in. A year field must stay inside this range and
// the search for the next fire time gives up after maxYear.
const (
	minYear = 1970
	maxYear = 2099
)

var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

// Quartz numbers the days of the week 1 (Sunday) to 7 (Saturday).
var quartzDayNames = map[string]int{
	"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
}

// Unix cron numbers them 0 (Sunday) to 6 (Saturday), and 7 is Sunday again.
var unixDayNames = map[string]int{
	"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
}

// fieldSpec describes the values a field accepts.
type fieldSpec struct {
	kind     fieldKind
	min, max int
	names    map[string]int
	maxStep  int
	wrap     bool // a range whose start is after its end wraps around (Quartz "22-2", "FRI-MON")
}

var (
	quartzSpecs = [...]fieldSpec{
		{kind: fieldSecond, min: 0, max: 59, maxStep: 59, wrap: true},
		{kind: fieldMinute, min: 0, max: 59, maxStep: 59, wrap: true},
		{kind: fieldHour, min: 0, max: 23, maxStep: 23, wrap: true},
		{kind: fieldDayOfMonth, min: 1, max: 31, maxStep: 31, wrap: true},
		{kind: fieldMonth, min: 1, max: 12, names: monthNames, maxStep: 12, wrap: true},
		{kind: fieldDayOfWeek, min: 1, max: 7, names: quartzDayNames, maxStep: 7, wrap: true},
		{kind: fieldYear, min: minYear, max: maxYear, maxStep: maxYear - minYear},
	}
	unixSpecs = [...]fieldSpec{
		{kind: fieldMinute, min: 0, max: 59, maxStep: 59},
		{kind: fieldHour, min: 0, max: 23, maxStep: 23},
		{kind: fieldDayOfMonth, min: 1, max: 31, maxStep: 31},
		{kind: fieldMonth, min: 1, max: 12, names: monthNames, maxStep: 12},
		{kind: fieldDayOfWeek, min: 0, max: 7, names: unixDayNames, maxStep: 7},
	}
)

// valueSet is a set of field values: bit i stands for value base+i, where base
// is minYear for the year field and 0 for every other field.
type valueSet [3]uint64

func (s *valueSet) add(i int)      { s[i/64] |= 1 << uint(i%64) }
func (s *valueSet) has(i int) bool { return i >= 0 && i < 192 && s[i/64]&(1<<uint(i%64)) != 0 }

// parsedField is one field after parsing.
type parsedField struct {
	values  valueSet // plain values: lists, ranges, steps
	noValue bool     // the field is '?'
	star    bool     // the field text starts with '*' (or is '?' in 5-field cron)

	// Day-of-month specials (Quartz).
	lastDay    bool // L, L-n, LW, L-nW
	lastOffset int  // n in L-n
	nearest    bool // W: nearest weekday
	nearestDay int  // n in nW; 0 when combined with L

	// Day-of-week specials (Quartz), with weekday counted from Sunday = 0.
	lastWeekday bool // xL: the last x of the month
	nth         int  // x#n: the n-th x of the month
	weekday     int  // x in xL and x#n
}

func (sp *fieldSpec) base() int {
	if sp.kind == fieldYear {
		return minYear
	}
	return 0
}

// parseField parses the text of one field. On failure it returns a message
// saying what is wrong; the caller names the field.
func parseField(text string, sp *fieldSpec, quartz bool) (parsedField, string) {
	var pf parsedField
	s := strings.ToUpper(text)
	dayField := sp.kind == fieldDayOfMonth || sp.kind == fieldDayOfWeek

	if s == "?" {
		if !dayField {
			return pf, "'?' is only allowed in day-of-month and day-of-week"
		}
		if quartz {
			pf.noValue = true
			return pf, ""
		}
		// 5-field cron has no '?'; it reads it as '*'.
		s = "*"
	}

	items := strings.Split(s, ",")
	if quartz && dayField {
		if c := specialChar(items, sp.kind); c != 0 {
			if len(items) > 1 {
				return pf, fmt.Sprintf("'%c' cannot be combined with other values in a list", c)
			}
			if sp.kind == fieldDayOfMonth {
				return pf, parseDayOfMonthSpecial(s, &pf)
			}
			return pf, parseDayOfWeekSpecial(s, sp, &pf)
		}
	}

	pf.star = strings.HasPrefix(s, "*")
	for _, item := range items {
		if msg := parseItem(item, sp, quartz, &pf.values); msg != "" {
			return pf, msg
		}
	}
	return pf, ""
}

// specialChar reports which of Quartz's L, W and # forms an item of a day
// field uses, or 0 if none does.
func specialChar(items []string, kind fieldKind) byte {
	for _, it := range items {
		if kind == fieldDayOfMonth {
			switch {
			case strings.HasPrefix(it, "L"):
				return 'L'
			case strings.HasSuffix(it, "W"):
				return 'W'
			}
			continue
		}
		switch {
		case strings.Contains(it, "#"):
			return '#'
		case strings.HasSuffix(it, "L"):
			return 'L'
		}
	}
	return 0
}

// parseDayOfMonthSpecial parses L, L-n, LW, L-nW and nW.
func parseDayOfMonthSpecial(s string, pf *parsedField) string {
	if rest, ok := strings.CutPrefix(s, "L"); ok {
		rest, pf.nearest = strings.CutSuffix(rest, "W")
		if rest != "" {
			digits, ok := strings.CutPrefix(rest, "-")
			n, isNum := atoi(digits)
			if !ok || !isNum {
				return fmt.Sprintf("invalid 'L' expression %q: use L, L-n, LW or L-nW", s)
			}
			if n > 30 {
				return fmt.Sprintf("offset %d from the last day is out of range 0-30", n)
			}
			pf.lastOffset = n
		}
		pf.lastDay = true
		return ""
	}
	digits, _ := strings.CutSuffix(s, "W")
	n, ok := atoi(digits)
	if !ok {
		return fmt.Sprintf("invalid 'W' expression %q: 'W' must follow a single day, like 15W", s)
	}
	if n < 1 || n > 31 {
		return fmt.Sprintf("%d is out of range 1-31", n)
	}
	pf.nearest, pf.nearestDay = true, n
	return ""
}

// parseDayOfWeekSpecial parses L (Saturday), xL and x#n.
func parseDayOfWeekSpecial(s string, sp *fieldSpec, pf *parsedField) string {
	if s == "L" {
		// Alone, L is simply the last day of the week: 7, Saturday.
		pf.values.add(7)
		return ""
	}
	if day, n, ok := strings.Cut(s, "#"); ok {
		v, msg := dayValue(day, sp, s, '#')
		if msg != "" {
			return msg
		}
		k, isNum := atoi(n)
		if !isNum {
			return fmt.Sprintf("invalid '#' expression %q: '#' must be followed by a number 1-5", s)
		}
		if k < 1 || k > 5 {
			return fmt.Sprintf("occurrence %d after '#' is out of range 1-5", k)
		}
		pf.nth, pf.weekday = k, v
		return ""
	}
	day, _ := strings.CutSuffix(s, "L")
	v, msg := dayValue(day, sp, s, 'L')
	if msg != "" {
		return msg
	}
	pf.lastWeekday, pf.weekday = true, v
	return ""
}

// dayValue reads the single day of the week in front of 'L' or '#' and returns
// it counted from Sunday = 0.
func dayValue(tok string, sp *fieldSpec, item string, c byte) (int, string) {
	v, ok := atoi(tok)
	if !ok {
		v, ok = sp.names[tok]
	}
	if !ok {
		return 0, fmt.Sprintf("invalid '%c' expression %q: '%c' must follow a single day of the week, like 6%c", c, item, c, c)
	}
	if v < sp.min || v > sp.max {
		return 0, fmt.Sprintf("%d is out of range %d-%d", v, sp.min, sp.max)
	}
	return v - 1, ""
}

// parseItem parses one list item: *, value, range, each with an optional step,
// and adds its values to set.
func parseItem(item string, sp *fieldSpec, quartz bool, set *valueSet) string {
	if item == "" {
		return "empty item in list"
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, ok := atoi(stepText)
		if !ok {
			return fmt.Sprintf("invalid step %q", stepText)
		}
		if n < 1 || n > sp.maxStep {
			return fmt.Sprintf("step %d is out of range 1-%d", n, sp.maxStep)
		}
		step = n
	}

	var lo, hi int
	switch {
	case base == "*":
		lo, hi = sp.min, sp.max
	case base == "" && hasStep && quartz:
		// Quartz reads "/5" as "*/5".
		lo, hi = sp.min, sp.max
	default:
		first, last, isRange := strings.Cut(base, "-")
		var msg string
		if lo, msg = fieldValue(first, item, sp, quartz); msg != "" {
			return msg
		}
		switch {
		case isRange:
			if hi, msg = fieldValue(last, item, sp, quartz); msg != "" {
				return msg
			}
		case hasStep:
			// "5/15" means from 5 to the end of the range, every 15.
			hi = sp.max
		default:
			hi = lo
		}
	}

	b := sp.base()
	if lo > hi {
		if !quartz || !sp.wrap {
			return fmt.Sprintf("range %d-%d: start is after end", lo, hi)
		}
		// Quartz wraps around: 22-2 in hours is 22,23,0,1,2.
		span := sp.max - sp.min + 1
		for v := lo; v <= hi+span; v += step {
			set.add(sp.min + (v-sp.min)%span - b)
		}
		return ""
	}
	for v := lo; v <= hi; v += step {
		set.add(v - b)
	}
	return ""
}

// fieldValue reads a number or a name and checks that it is in range.
func fieldValue(tok, item string, sp *fieldSpec, quartz bool) (int, string) {
	if tok == "" {
		return 0, fmt.Sprintf("invalid item %q", item)
	}
	v, ok := atoi(tok)
	if !ok {
		v, ok = sp.names[tok]
	}
	if !ok {
		return 0, badToken(tok, sp.kind, quartz)
	}
	if v < sp.min || v > sp.max {
		return 0, fmt.Sprintf("%d is out of range %d-%d", v, sp.min, sp.max)
	}
	return v, ""
}

// badToken explains why tok is not a value of the field.
func badToken(tok string, kind fieldKind, quartz bool) string {
	letters := true
	for i := 0; i < len(tok); i++ {
		if tok[i] < 'A' || tok[i] > 'Z' {
			letters = false
			break
		}
	}
	if letters && tok != "L" && tok != "W" && tok != "LW" {
		return fmt.Sprintf("unknown name %q", tok)
	}
	if i := strings.IndexAny(tok, "LW#?"); i >= 0 {
		c := tok[i]
		if c == '?' {
			if kind == fieldDayOfMonth || kind == fieldDayOfWeek {
				return "'?' must be the whole field"
			}
			return "'?' is only allowed in day-of-month and day-of-week"
		}
		if !quartz {
			return fmt.Sprintf("'%c' is not supported in 5-field cron expressions", c)
		}
		switch {
		case c == 'L' && (kind == fieldDayOfMonth || kind == fieldDayOfWeek),
			c == 'W' && kind == fieldDayOfMonth,
			c == '#' && kind == fieldDayOfWeek:
			return fmt.Sprintf("'%c' cannot be combined with a range or step", c)
		case c == 'L':
			return "'L' is only allowed in day-of-month and day-of-week"
		case c == 'W':
			return "'W' is only allowed in day-of-month"
		default:
			return "'#' is only allowed in day-of-week"
		}
	}
	return fmt.Sprintf("invalid value %q", tok)
}

// atoi parses a short unsigned decimal number.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
