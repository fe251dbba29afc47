package ui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/captune/captune/annotate"
)

// FilterHelp describes the filter box's language, shown as its tooltip-like placeholder and in
// the shortcuts dialog.
const FilterHelp = `words match captions and file names · "quoted phrase" · /regexp/ · is:uncaptioned · is:approved, is:unreviewed, is:rejected · is:human, is:model, is:imported · origin:model:NAME · split:train, val, test, none`

// ParseFilter reads the filter box: free words (matched as one phrase against captions and paths),
// a /regular expression/, and key:value terms that select states, origins, splits and images
// without captions. Terms of one kind widen the selection (is:approved is:rejected means either);
// terms of different kinds narrow it.
func ParseFilter(s string) (annotate.Filter, error) {
	var f annotate.Filter
	var words []string
	for _, tok := range splitFilter(s) {
		key, val, hasKey := strings.Cut(tok, ":")
		lower := strings.ToLower(val)
		switch {
		case len(tok) >= 2 && strings.HasPrefix(tok, "/") && strings.HasSuffix(tok, "/"):
			pat := tok[1 : len(tok)-1]
			if _, err := regexp.Compile(pat); err != nil {
				return f, fmt.Errorf("filter /%s/: %w", pat, err)
			}
			if f.Regexp || len(words) > 0 {
				return f, fmt.Errorf("filter: one /regexp/ and no other words, please")
			}
			f.Regexp = true
			words = []string{pat}
		case hasKey && strings.EqualFold(key, "is"):
			switch lower {
			case "uncaptioned", "missing", "empty":
				f.Missing = true
			case "approved":
				f.States = append(f.States, annotate.StateApproved)
			case "unreviewed", "review", "toreview":
				f.States = append(f.States, annotate.StateUnreviewed)
			case "rejected":
				f.States = append(f.States, annotate.StateRejected)
			case "human":
				f.Origins = append(f.Origins, annotate.OriginHuman)
			case "model":
				f.Origins = append(f.Origins, annotate.Origin("model"))
			case "imported":
				f.Origins = append(f.Origins, annotate.OriginImported)
			default:
				return f, fmt.Errorf("filter is:%s: want uncaptioned, approved, unreviewed, rejected, human, model or imported", val)
			}
		case hasKey && strings.EqualFold(key, "origin"):
			if val == "" {
				return f, fmt.Errorf("filter origin: needs a value, e.g. origin:human or origin:model:blip-base")
			}
			f.Origins = append(f.Origins, annotate.Origin(lower))
		case hasKey && strings.EqualFold(key, "split"):
			if lower == "none" {
				f.Splits = append(f.Splits, annotate.SplitNone)
				break
			}
			sp, ok := annotate.ParseSplit(lower)
			if !ok {
				return f, fmt.Errorf("filter split:%s: want train, val, test or none", val)
			}
			f.Splits = append(f.Splits, sp)
		default:
			if f.Regexp {
				return f, fmt.Errorf("filter: one /regexp/ and no other words, please")
			}
			words = append(words, tok)
		}
	}
	f.Text = strings.Join(words, " ")
	return f, nil
}

// splitFilter splits on spaces, keeping "quoted phrases" and /regexps with spaces/ together.
func splitFilter(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				if quote == '/' {
					cur.WriteRune(r)
				}
				quote = 0
				flush()
				continue
			}
			cur.WriteRune(r)
		case r == '"' && cur.Len() == 0:
			quote = '"'
		case r == '/' && cur.Len() == 0:
			quote = '/'
			cur.WriteRune(r)
		case r == ' ' || r == '\t':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// isEmptyFilter reports whether f selects every item.
func isEmptyFilter(f annotate.Filter) bool {
	return f.Text == "" && !f.Missing && len(f.States) == 0 && len(f.Origins) == 0 && len(f.Splits) == 0
}
