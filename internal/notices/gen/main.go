// Command gen writes THIRD_PARTY_NOTICES.md from go.mod, the Go module cache and the wheels that
// scripts/setup.sh downloads. Run it through scripts/notices.sh from the repository root.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/notices"
)

func main() {
	gomod := flag.String("gomod", "go.mod", "the go.mod whose modules are listed")
	modcache := flag.String("modcache", "", "the Go module cache (default: go env GOMODCACHE)")
	wheels := flag.String("wheels", defaultWheels(), "the folder of the torch and nvidia wheels")
	out := flag.String("o", "THIRD_PARTY_NOTICES.md", "the file to write")
	flag.Parse()
	if err := run(*gomod, *modcache, *wheels, *out); err != nil {
		fmt.Fprintf(os.Stderr, "notices: %v\n", err)
		os.Exit(1)
	}
}

func run(gomod, modcache, wheels, out string) error {
	if modcache == "" {
		b, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		modcache = strings.TrimSpace(string(b))
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	mods, err := notices.ParseGoMod(data)
	if err != nil {
		return err
	}
	goMods, err := notices.GoModuleEntries(mods, modcache)
	if err != nil {
		return err
	}
	native, err := notices.NativeEntries(wheels)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := notices.Render(&b, goMods, native, notices.Credits); err != nil {
		return err
	}
	return atomicfile.WriteFile(out, b.Bytes(), 0o644)
}

// defaultWheels is scripts/setup.sh's wheel cache: $CAPTUNE_CACHE/wheels, else
// ${XDG_CACHE_HOME:-~/.cache}/captune/wheels.
func defaultWheels() string {
	if c := os.Getenv("CAPTUNE_CACHE"); c != "" {
		return filepath.Join(c, "wheels")
	}
	if c := os.Getenv("XDG_CACHE_HOME"); c != "" {
		return filepath.Join(c, "captune", "wheels")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "captune", "wheels")
}
