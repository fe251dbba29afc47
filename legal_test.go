package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/captune/captune/app"
)

// TestLegalTextsReachTheApp checks what Help › About shows: the embedded LICENSE and notices are the
// files at the root, the license line is the one LICENSE declares, and the version is FyneApp.toml's
// (the Makefile links that one into app.Version; the default must not drift from it).
func TestLegalTextsReachTheApp(t *testing.T) {
	for _, tc := range []struct{ file, got string }{
		{"LICENSE", app.LicenseText},
		{"THIRD_PARTY_NOTICES.md", app.Notices},
	} {
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if tc.got != string(want) {
			t.Errorf("the text app holds for %s is not the file (%d vs %d bytes)", tc.file, len(tc.got), len(want))
		}
	}
	if !strings.Contains(app.LicenseText, "SPDX-License-Identifier: "+app.License+"\n") {
		t.Errorf("LICENSE does not declare %s", app.License)
	}
	toml, err := os.ReadFile("FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindSubmatch(toml)
	if m == nil || string(m[1]) != app.Version {
		t.Errorf("FyneApp.toml's Version %q, app.Version %q: want them equal", m, app.Version)
	}
}
