package app

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/captune/captune/inference"
)

// The decode flags the user does not pass take the model's generation_config.json values, else
// Captune's defaults; a flag the user passes wins over both.
func TestDecodeFlagsFollowTheModel(t *testing.T) {
	model := func(file string) inference.GenerationConfig {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := inference.ReadGenerationConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	type want struct{ beams, min, max, ngram int }
	tests := []struct {
		name string
		args []string
		gen  inference.GenerationConfig
		want want
	}{
		{"no config: Captune's defaults", nil, inference.GenerationConfig{}, want{3, 5, 20, 0}},
		{"config without lengths", nil, model(`{"eos_token_id": 3}`), want{3, 5, 20, 0}},
		{"bundled: min length 1", nil, model(`{"min_length": 1}`), want{3, 1, 20, 0}},
		{"min length 0 is a value", nil, model(`{"min_length": 0}`), want{3, 0, 20, 0}},
		{"all the model's", nil, model(`{"min_length": 2, "max_length": 30, "num_beams": 4, "no_repeat_ngram_size": 3}`), want{4, 2, 30, 3}},
		{"typed wins", []string{"--min-length", "5", "--beams", "1"}, model(`{"min_length": 1, "num_beams": 4, "max_length": 30}`), want{1, 5, 30, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("caption", flag.ContinueOnError)
			var d decodeFlags
			addDecodeFlags(fs, &d, 3)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			opts, err := d.options(tc.gen)
			if err != nil {
				t.Fatal(err)
			}
			o := opts.Decode
			if got := (want{o.NumBeams, o.MinLength, o.MaxLength, o.NoRepeatNgramSize}); got != tc.want {
				t.Errorf("beams, min, max, no-repeat-ngram = %v, want %v", got, tc.want)
			}
		})
	}
}

// captune caption --help says where the length defaults come from, once.
func TestCaptionHelpNamesModelDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"caption", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	help := stderr.String()
	for _, want := range []string{"(default: the model's generation_config.json, else 5)\n", "(default: the model's generation_config.json, else 20)\n"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "(default 5)") || strings.Contains(help, "(default 20)") {
		t.Errorf("help still states the built-in length as the default:\n%s", help)
	}
}

// A user captions fresh images of the bundled model's own domain with `captune caption` and no
// length flags: three-word captions such as "a red circle" (4 tokens with [DEC]) come out, as
// the model's generation_config.json (min_length 1) allows; --min-length 5 forbids them.
func TestCaptionBundledModelUsesItsMinLength(t *testing.T) {
	if _, err := os.Stat("../assets/model/config.json"); err != nil {
		t.Skipf("no bundled model: %v", err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where the bundled model is unpacked
	imgs := filepath.Join(t.TempDir(), "fresh")
	const n = 30 // of seed 4242, three have three-word references ("two green circles")
	var out, errOut bytes.Buffer
	if code := run([]string{"synth", "--out", imgs, "--n", strconv.Itoa(n), "--seed", "4242", "--variant", "base", "--size", "64"}, &out, &errOut); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errOut.String())
	}
	// caption counts the captions equal to their reference, and the three-word ones.
	caption := func(args ...string) (exact, threeWord int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append(append([]string{"caption"}, args...), imgs), &stdout, &stderr); code != 0 {
			t.Fatalf("caption %v: exit %d: %s", args, code, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			path, text, _ := strings.Cut(line, "\t")
			ref, err := os.ReadFile(strings.TrimSuffix(path, ".png") + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			if text == strings.TrimSpace(string(ref)) {
				exact++
			}
			if len(strings.Fields(text)) == 3 {
				threeWord++
			}
		}
		return exact, threeWord
	}
	exact, threeWord := caption()
	t.Logf("default lengths: %d/%d captions equal the reference, %d have three words", exact, n, threeWord)
	if threeWord < 2 || exact < n*8/10 {
		t.Errorf("default lengths: %d/%d exact, %d three-word captions; want at least 80 %% exact and the three-word captions", exact, n, threeWord)
	}
	exact5, threeWord5 := caption("--min-length", "5")
	t.Logf("--min-length 5: %d/%d exact, %d three-word", exact5, n, threeWord5)
	if threeWord5 != 0 {
		t.Errorf("--min-length 5: %d three-word captions, want none (the user's flag wins)", threeWord5)
	}
}
