// Package locale gives Fyne a locale it can parse before Fyne reads one.
//
// Under the C or POSIX locale with an encoding ("C.UTF-8", the default of Debian containers, CI
// runners and many ssh sessions), Fyne's lang package takes "C" for a language tag, fails to parse
// it and prints "Fyne error: Error parsing user locale C" from its package initialisation, before
// main runs, on every command including `captune version`. A user takes that for a failure.
//
// Importing this package (blank import from main) sets LANGUAGE=en for such locales. It must run
// before fyne.io/fyne/v2/lang's init: Go initialises packages in import-path order among those
// whose imports are ready, and this package imports only the standard library, so it runs before
// github.com/jeandeaual/go-locale, which Fyne's lang package needs first. LANGUAGE is consulted by
// gettext only for messages and only when the locale is not plain C or POSIX, so child processes
// see no change in behaviour; a LANGUAGE the user set is left alone.
package locale

import (
	"os"
	"strings"
)

func init() { Fix(os.Getenv, os.Setenv) }

// Fix sets LANGUAGE to "en" when the effective message locale (LC_ALL, LC_MESSAGES, LANG, the
// first that is set) is C or POSIX with an encoding or modifier, and LANGUAGE is empty. It
// reports whether it changed anything.
func Fix(getenv func(string) string, setenv func(string, string) error) bool {
	loc := ""
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc = getenv(k); loc != "" {
			break
		}
	}
	if getenv("LANGUAGE") != "" || !unparsable(loc) {
		return false
	}
	return setenv("LANGUAGE", "en") == nil
}

// unparsable reports whether Fyne would read loc's language part as "C" or "POSIX": plain "C" and
// "POSIX" are recognised by Fyne's locale reader and fall back to English by themselves.
func unparsable(loc string) bool {
	lang, _, _ := strings.Cut(loc, "@")
	lang, _, _ = strings.Cut(lang, ".")
	lang, _, _ = strings.Cut(lang, "_")
	return (lang == "C" || lang == "POSIX") && loc != "C" && loc != "POSIX"
}
