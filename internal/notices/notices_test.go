package notices

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const root = "../.."

// TestNoticesListEveryModule fails when go.mod and THIRD_PARTY_NOTICES.md disagree: a module added,
// removed or upgraded without rerunning scripts/notices.sh.
func TestNoticesListEveryModule(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ParseGoMod(gomod)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 10 {
		t.Fatalf("parsed %d modules from go.mod; the parser misses require lines", len(mods))
	}
	text, err := os.ReadFile(filepath.Join(root, "THIRD_PARTY_NOTICES.md"))
	if err != nil {
		t.Fatal(err)
	}
	if problems := Check(mods, text); len(problems) > 0 {
		t.Errorf("THIRD_PARTY_NOTICES.md is out of date (run scripts/notices.sh):\n  %s", strings.Join(problems, "\n  "))
	}
	for _, want := range []string{"libtorch_cpu.so", "libc10.so", "libgomp", "GCC-exception-3.1", "libcudart.so.12", "libcupti.so.12", "CoreNLP", "GPL-2.0-or-later"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("THIRD_PARTY_NOTICES.md does not mention %s", want)
		}
	}
}

// TestNoticesRegenerateIdentically regenerates the file from this machine's module cache and
// wheels and compares: the generator is deterministic and the committed file is its output.
func TestNoticesRegenerateIdentically(t *testing.T) {
	home, _ := os.UserHomeDir()
	wheels := filepath.Join(home, ".cache", "captune", "wheels")
	if c := os.Getenv("CAPTUNE_CACHE"); c != "" {
		wheels = filepath.Join(c, "wheels")
	}
	if _, err := os.Stat(wheels); err != nil {
		t.Skipf("no wheel cache at %s (scripts/setup.sh makes it): %v", wheels, err)
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ParseGoMod(gomod)
	if err != nil {
		t.Fatal(err)
	}
	goMods, err := GoModuleEntries(mods, strings.TrimSpace(string(out)))
	if err != nil {
		t.Skipf("module cache incomplete (go mod download): %v", err)
	}
	native, err := NativeEntries(wheels)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := Render(&got, goMods, native, Credits); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "THIRD_PARTY_NOTICES.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("THIRD_PARTY_NOTICES.md differs from the generator's output (%d vs %d bytes): run scripts/notices.sh", len(want), got.Len())
	}
}

func TestParseGoMod(t *testing.T) {
	for _, tc := range []struct {
		name, gomod string
		want        []Module
		wantErr     bool
	}{
		{"blocks and single lines", "module x\n\ngo 1.26\n\nrequire (\n\ta.io/b v1.0.0\n\tc.io/d/v2 v2.1.0 // indirect\n)\n\nrequire e.io/f v0.0.0-2020-abc\n",
			[]Module{{"a.io/b", "v1.0.0", false}, {"c.io/d/v2", "v2.1.0", true}, {"e.io/f", "v0.0.0-2020-abc", false}}, false},
		{"comments and blank lines", "// top\nmodule x\nrequire (\n\n\t// a comment\n\ta.io/b v1.0.0 // why\n)\n",
			[]Module{{"a.io/b", "v1.0.0", false}}, false},
		{"toolchain is not a module", "module x\ntoolchain go1.26.0\nrequire a.io/b v1.0.0\n", []Module{{"a.io/b", "v1.0.0", false}}, false},
		{"replace is refused", "module x\nrequire a.io/b v1.0.0\nreplace a.io/b => ../b\n", nil, true},
		{"malformed require", "module x\nrequire (\n\ta.io/b\n)\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGoMod([]byte(tc.gomod))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseGoMod error %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseGoMod = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	const (
		mit    = "Permission is hereby granted, free of charge, to any person"
		apache = "Apache License\n   Version 2.0, January 2004"
		bsd    = "Redistribution and use in source and binary forms, with or without"
		isc    = "Permission to use, copy, modify, and distribute this software for any\npurpose with or without fee is hereby granted"
	)
	for _, tc := range []struct{ name, text, want string }{
		{"MIT", "The MIT License\n\n" + mit, "MIT"},
		{"Apache", apache, "Apache-2.0"},
		{"BSD-3 (wrapped)", bsd + "\nmodification... Neither the name of Google nor the names of its contributors may be used to\nendorse or promote", "BSD-3-Clause"},
		{"BSD-3, 'may not be used'", bsd + " The names of its contributors may not be used to endorse or promote", "BSD-3-Clause"},
		{"BSD-2", bsd, "BSD-2-Clause"},
		{"ISC", isc, "ISC"},
		{"BSD-2 with an ISC part", bsd + "\n---\n" + isc, "BSD-2-Clause AND ISC"},
		{"MIT and Apache parts", mit + "\n" + apache, "MIT AND Apache-2.0"},
		{"SPDX line wins", "SPDX-License-Identifier: Unlicense OR BSD-3-Clause\n" + bsd, "Unlicense OR BSD-3-Clause"},
		{"unknown", "All rights reserved.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Classify(tc.text)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Classify = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Classify = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRenderThenCheck(t *testing.T) {
	mods := []Module{{Path: "a.io/b", Version: "v1.0.0"}, {Path: "c.io/d", Version: "v2.0.0", Indirect: true}}
	entries := []Entry{
		{Name: "a.io/b", Version: "v1.0.0", License: "MIT", Texts: []Text{{Source: "LICENSE", Body: "text with ``` inside"}}},
		{Name: "c.io/d", Version: "v2.0.0", License: "ISC", Texts: []Text{{Source: "LICENSE", Body: "isc"}}},
	}
	native := []Entry{{Name: "libx.so", Version: "1", License: "BSD-3-Clause", Texts: []Text{{Source: "x", Body: "| `e.io/f` | v9 | looks like a row |"}}}}
	var b bytes.Buffer
	if err := Render(&b, entries, native, "credit"); err != nil {
		t.Fatal(err)
	}
	if p := Check(mods, b.Bytes()); p != nil {
		t.Errorf("Check of a fresh rendering: %v", p)
	}
	if !strings.Contains(b.String(), "````text\ntext with ``` inside\n````") {
		t.Errorf("a text holding ``` is not fenced with four backticks:\n%s", b.String())
	}
	for _, tc := range []struct {
		name string
		mods []Module
		want string
	}{
		{"missing", append(mods, Module{Path: "g.io/h", Version: "v1"}), "g.io/h v1 is in go.mod but not in the notices"},
		{"upgraded", []Module{mods[0], {Path: "c.io/d", Version: "v2.1.0"}}, "c.io/d is v2.1.0 in go.mod but v2.0.0 in the notices"},
		{"removed", mods[:1], "c.io/d v2.0.0 is in the notices but not in go.mod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Check(tc.mods, b.Bytes()); !reflect.DeepEqual(got, []string{tc.want}) {
				t.Errorf("Check = %q, want [%q]", got, tc.want)
			}
		})
	}
}
