package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// typedFields remembers which of a panel's numbers the user typed; the others follow a model's
// advice (the Fine-tune tab's epochs, learning rate and batch size from captune_training.json, the
// Generation panel's beams and lengths from generation_config.json). Only typed numbers are stored.
type typedFields struct {
	typed   map[string]bool // preference keys of the numbers the user typed
	filling bool            // the panel itself is setting the entries
}

// watch marks e's number, stored under key, as the user's once they type in it, then calls
// changed when it is not nil.
func (f *typedFields) watch(e *widget.Entry, key string, changed func()) {
	e.OnChanged = func(string) {
		if !f.filling {
			f.typed[key] = true
		}
		if changed != nil {
			changed()
		}
	}
}

// adviceFill is one number a panel fills from a model's advice.
type adviceFill struct {
	entry     *widget.Entry
	key, what string // preference key; words for the note ("learning rate")
	text      string // the advised value, or the default where advised is false
	advised   bool
}

// fill sets every number the user has not typed and returns, as "what value", those that came
// from the advice.
func (f *typedFields) fill(fills ...adviceFill) (used []string) {
	f.filling = true
	defer func() { f.filling = false }()
	for _, a := range fills {
		if f.typed[a.key] {
			continue
		}
		a.entry.SetText(a.text)
		if a.advised {
			used = append(used, a.what+" "+a.text)
		}
	}
	return used
}

// saveTyped stores, through set (one setter per preference key), the numbers the user typed and
// removes the others, so that one model's advised values do not stick to the next model.
func saveTyped(p fyne.Preferences, typed map[string]bool, set map[string]func()) {
	for key, store := range set {
		if typed[key] {
			store()
		} else {
			p.RemoveValue(key)
		}
	}
}
