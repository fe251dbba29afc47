package metrics

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// This file holds a small scanner generator with the matching rules of JFlex, the tool that builds
// Stanford's PTBLexer: at each position the rule with the longest match wins, ties go to the rule
// listed first, and a rule "r1/r2" counts its trailing context r2 in the match length but consumes
// only r1. Rules are Go regular expressions, compiled by regexp/syntax into NFA programs and run
// together as one lazily built DFA, so scanning costs one table lookup per character once warm.
//
// Input is a slice of UTF-16 code units held in runes: Java sees a character outside the Basic
// Multilingual Plane as two surrogates, and the tokenizer must see the same thing to agree with it.

// lexRule is one scanner rule before compilation.
type lexRule struct {
	name  string
	head  string // r1: the text the rule consumes
	trail string // r2: trailing context, empty when the rule has none
}

// scanner is a compiled set of rules.
type scanner struct {
	rules []compiledRule
	nfa   []nfaInst // every rule's program, renumbered into one instruction space
	// bounds are the sorted starts of the character intervals that no rule tells apart: every
	// character in [bounds[i], bounds[i+1]) matches exactly the same instructions, so the DFA
	// keeps one transition per interval instead of one per character (JFlex's character map).
	bounds []rune

	mu    sync.Mutex // guards everything below, which is built lazily while scanning
	cache map[string]*dfaState
	start *dfaState
	mark  []uint32 // per NFA instruction: the closure generation that last added it
	gen   uint32
}

type compiledRule struct {
	name     string
	prog     *syntax.Prog // head followed by trail
	head     *syntax.Prog // only set for rules with trailing context
	trail    *syntax.Prog
	trailLen int // length of every trail match, or -1 when it varies
}

// nfaInst is one instruction of one rule's program, with successors in the global numbering.
type nfaInst struct {
	inst     *syntax.Inst
	rule     int
	out, arg int
}

// dfaState is a set of NFA instructions, the rule it accepts (the first listed), and its transitions.
type dfaState struct {
	set    []int
	accept int // rule index, or -1
	ascii  [128]*dfaState
	other  map[int32]*dfaState // by character interval, for characters beyond ASCII
}

// dead marks a transition that has been computed and leads nowhere.
var dead = &dfaState{accept: -1}

func parseRegexp(expr string) (*syntax.Regexp, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return re.Simplify(), nil
}

func compileRegexp(expr string) (*syntax.Prog, error) {
	re, err := parseRegexp(expr)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re)
	if err != nil {
		return nil, err
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			return nil, fmt.Errorf("empty-width assertions are not supported")
		}
	}
	return prog, nil
}

// newScanner compiles rules; an error here is a bug in the rule table, not bad input.
func newScanner(rules []lexRule) (*scanner, error) {
	sc := &scanner{cache: map[string]*dfaState{}}
	var starts []int
	for i, r := range rules {
		full := r.head
		if r.trail != "" {
			full = "(?:" + r.head + ")(?:" + r.trail + ")"
		}
		prog, err := compileRegexp(full)
		if err != nil {
			return nil, fmt.Errorf("compile rule %s: %w", r.name, err)
		}
		cr := compiledRule{name: r.name, prog: prog, trailLen: -1}
		if r.trail != "" {
			re, err := parseRegexp(r.trail)
			if err != nil {
				return nil, fmt.Errorf("parse rule %s trailing context: %w", r.name, err)
			}
			cr.trailLen = fixedLength(re)
			if cr.head, err = compileRegexp(r.head); err != nil {
				return nil, fmt.Errorf("compile rule %s head: %w", r.name, err)
			}
			if cr.trail, err = compileRegexp(r.trail); err != nil {
				return nil, fmt.Errorf("compile rule %s trailing context: %w", r.name, err)
			}
		}
		sc.rules = append(sc.rules, cr)
		base := len(sc.nfa)
		for pc := range prog.Inst {
			in := &prog.Inst[pc]
			sc.nfa = append(sc.nfa, nfaInst{inst: in, rule: i, out: base + int(in.Out), arg: base + int(in.Arg)})
		}
		starts = append(starts, base+prog.Start)
	}
	sc.computeBounds()
	sc.mark = make([]uint32, len(sc.nfa))
	sc.gen++
	var set []int
	for _, pc := range starts {
		set = sc.closure(set, pc)
	}
	sc.start = sc.intern(set)
	return sc, nil
}

// computeBounds collects the character intervals of all rules.
func (sc *scanner) computeBounds() {
	set := map[rune]bool{0: true}
	for _, n := range sc.nfa {
		in := n.inst
		switch in.Op {
		case syntax.InstRune:
			if len(in.Rune) == 1 {
				// A literal; with FoldCase it matches its whole case-folding orbit. (The parser
				// folds only two-member orbits such as [cC], so "k" never matches the Kelvin sign.)
				r := in.Rune[0]
				set[r], set[r+1] = true, true
				if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
					for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
						set[f], set[f+1] = true, true
					}
				}
				continue
			}
			for i := 0; i+1 < len(in.Rune); i += 2 {
				set[in.Rune[i]], set[in.Rune[i+1]+1] = true, true
			}
		case syntax.InstRune1:
			set[in.Rune[0]], set[in.Rune[0]+1] = true, true
		case syntax.InstRuneAnyNotNL:
			set['\n'], set['\n'+1] = true, true
		}
	}
	for r := range set {
		sc.bounds = append(sc.bounds, r)
	}
	slices.Sort(sc.bounds)
}

// interval returns the index of the character interval holding r.
func (sc *scanner) interval(r rune) int32 {
	i, found := slices.BinarySearch(sc.bounds, r)
	if !found {
		i--
	}
	return int32(i)
}

// closure adds pc and every instruction reachable from it without consuming input. Instructions
// already added in the current generation (sc.gen) are skipped.
func (sc *scanner) closure(set []int, pc int) []int {
	stack := []int{pc}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if sc.mark[pc] == sc.gen {
			continue
		}
		sc.mark[pc] = sc.gen
		set = append(set, pc)
		n := &sc.nfa[pc]
		switch n.inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, n.arg, n.out)
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, n.out)
		}
	}
	return set
}

// intern returns the DFA state for set, creating it on first sight.
func (sc *scanner) intern(set []int) *dfaState {
	if len(set) == 0 {
		return dead
	}
	sort.Ints(set)
	var key strings.Builder
	for _, s := range set {
		key.WriteString(strconv.Itoa(s))
		key.WriteByte(',')
	}
	if d, ok := sc.cache[key.String()]; ok {
		return d
	}
	d := &dfaState{set: set, accept: -1}
	for _, s := range set {
		n := &sc.nfa[s]
		if n.inst.Op == syntax.InstMatch && (d.accept < 0 || n.rule < d.accept) {
			d.accept = n.rule
		}
	}
	sc.cache[key.String()] = d
	return d
}

// step returns the state after reading r from d.
func (sc *scanner) step(d *dfaState, r rune) *dfaState {
	var class int32
	if r >= 0 && r < 128 {
		if next := d.ascii[r]; next != nil {
			return next
		}
	} else {
		class = sc.interval(r)
		if next, ok := d.other[class]; ok {
			return next
		}
		r = sc.bounds[class] // every character of the interval moves alike
	}
	sc.gen++
	var set []int
	for _, s := range d.set {
		n := &sc.nfa[s]
		switch n.inst.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if n.inst.MatchRune(r) {
				set = sc.closure(set, n.out)
			}
		}
	}
	next := sc.intern(set)
	if r >= 0 && r < 128 {
		d.ascii[r] = next
	} else {
		if d.other == nil {
			d.other = map[int32]*dfaState{}
		}
		d.other[class] = next
	}
	return next
}

// longest returns the rule that matches the longest text at in[pos:] (ties go to the earlier
// rule) and the length of that match including trailing context; rule is -1 when none matches.
// The caller holds sc.mu, since scanning extends the DFA.
func (sc *scanner) longest(in []rune, pos int) (rule, length int) {
	rule = -1
	d := sc.start
	for i := pos; i < len(in); i++ {
		d = sc.step(d, in[i])
		if d == dead {
			break
		}
		if d.accept >= 0 {
			rule, length = d.accept, i+1-pos
		}
	}
	return rule, length
}

// headLength splits a match of a rule with trailing context: like JFlex's generated code, it
// takes the longest head r1 such that the trailing context r2 matches the rest exactly.
func (sc *scanner) headLength(rule int, match []rune) int {
	r := sc.rules[rule]
	if r.trailLen >= 0 {
		return len(match) - r.trailLen // the only split there is
	}
	ends := prefixMatches(r.head, match)
	for k := len(match); k >= 0; k-- {
		if ends[k] && fullMatch(r.trail, match[k:]) {
			return k
		}
	}
	return len(match) // unreachable when match came from the combined program
}

// prefixMatches reports, for each k in 0..len(in), whether prog matches in[:k] exactly.
func prefixMatches(prog *syntax.Prog, in []rune) []bool {
	ends := make([]bool, len(in)+1)
	seen := make([]int, len(prog.Inst)) // step+1 at which an instruction was last added
	cur := addThread(nil, prog, prog.Start, seen, 1)
	for k := 0; ; k++ {
		for _, pc := range cur {
			if prog.Inst[pc].Op == syntax.InstMatch {
				ends[k] = true
			}
		}
		if k == len(in) || len(cur) == 0 {
			return ends
		}
		var next []int
		for _, pc := range cur {
			inst := &prog.Inst[pc]
			switch inst.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				if inst.MatchRune(in[k]) {
					next = addThread(next, prog, int(inst.Out), seen, k+2)
				}
			}
		}
		cur = next
	}
}

func fullMatch(prog *syntax.Prog, in []rune) bool {
	return prefixMatches(prog, in)[len(in)]
}

func addThread(list []int, prog *syntax.Prog, pc int, seen []int, mark int) []int {
	if seen[pc] == mark {
		return list
	}
	seen[pc] = mark
	list = append(list, pc)
	in := &prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		list = addThread(list, prog, int(in.Out), seen, mark)
		list = addThread(list, prog, int(in.Arg), seen, mark)
	case syntax.InstCapture, syntax.InstNop:
		list = addThread(list, prog, int(in.Out), seen, mark)
	}
	return list
}

// fixedLength returns the number of characters every match of re has, or -1 if it varies.
func fixedLength(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return 0
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture:
		return fixedLength(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			l := fixedLength(sub)
			if l < 0 {
				return -1
			}
			n += l
		}
		return n
	case syntax.OpAlternate:
		n := fixedLength(re.Sub[0])
		for _, sub := range re.Sub[1:] {
			if fixedLength(sub) != n {
				return -1
			}
		}
		return n
	case syntax.OpRepeat:
		if l := fixedLength(re.Sub[0]); l >= 0 && re.Min == re.Max {
			return l * re.Min
		}
	}
	return -1
}
