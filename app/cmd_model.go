package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/captune/captune/internal/hub"
)

func init() {
	register(&Command{
		Name:    "model",
		Summary: "download BLIP models from the Hugging Face hub, list and locate the cached ones",
		Usage:   "pull|list|path [flags] [ORG/NAME]",
		Run:     runModel,
	})
}

// modelCommands are the subcommands of captune model, in the order --help lists them.
var modelCommands = []struct {
	name, usage, summary string
	run                  func(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error
}{
	{"pull", "ORG/NAME[@REVISION] [--revision R]",
		"download a captioning model (config, preprocessor, tokenizer, weights) into the Hugging Face cache and print its folder",
		runModelPull},
	{"list", "[--json]", "list the models in the Hugging Face cache, Python's downloads included", runModelList},
	{"path", "ORG/NAME[@REVISION] [--revision R]", "print the cached folder of a model, without downloading anything", runModelPath},
}

const modelEnvHelp = `Environment (shared with Python's huggingface_hub):
  HF_HOME          cache root (default ~/.cache/huggingface; models go to $HF_HOME/hub)
  HF_HUB_CACHE     the hub cache folder itself, overriding $HF_HOME/hub
  HF_ENDPOINT      hub URL (default https://huggingface.co), e.g. a mirror
  HF_TOKEN         access token for private and gated repos (else the token of huggingface-cli login)
  HF_HUB_OFFLINE   1: use the cache only, never the network`

func runModel(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	fs.Usage = func() { modelUsage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		modelUsage(env.Stderr)
		return &ExitError{Code: 2}
	}
	name := fs.Arg(0)
	for _, sc := range modelCommands {
		if sc.name != name {
			continue
		}
		sub := flag.NewFlagSet("captune model "+name, flag.ContinueOnError)
		sub.SetOutput(env.Stderr)
		sub.Usage = func() {
			fmt.Fprintf(sub.Output(), "Usage: captune model %s %s\n\n%s\n\nFlags:\n", sc.name, sc.usage, sc.summary)
			sub.PrintDefaults()
			fmt.Fprintf(sub.Output(), "\n%s\n", modelEnvHelp)
		}
		return sc.run(ctx, env, sub, fs.Args()[1:])
	}
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown subcommand %q (see captune model --help)", name)}
}

func modelUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: captune model pull|list|path [flags] [ORG/NAME]\n\nManage BLIP models from the Hugging Face hub. Commands:\n")
	for _, sc := range modelCommands {
		fmt.Fprintf(w, "  captune model %s %s\n      %s\n", sc.name, sc.usage, sc.summary)
	}
	fmt.Fprintf(w, "\nA pulled model is used with --model ORG/NAME by caption, eval and finetune; a LoRA adapter\nfolder with --model DIR or --adapter DIR, on the base model its adapter_config.json names\n(a folder, a repo id of this cache, or \"bundled\").\n\"captune model COMMAND --help\" describes a command's flags.\n\n%s\n", modelEnvHelp)
}

// parseInterspersed parses flags that may come before or after the positional arguments
// (captune model pull ORG/NAME --revision R), which flag.Parse alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// repoArg reads the one ORG/NAME[@REVISION] argument of pull and path; --revision wins over @REVISION.
func repoArg(fs *flag.FlagSet, args []string, revision *string) (repo, rev string, err error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", "", err
	}
	if len(pos) != 1 {
		return "", "", &ExitError{Code: 2, Err: fmt.Errorf("want one model id ORG/NAME, got %d arguments (see %s --help)", len(pos), fs.Name())}
	}
	repo, rev, _ = strings.Cut(pos[0], "@")
	if err := hub.ValidateRepoID(repo); err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	if *revision != "" {
		rev = *revision
	}
	return repo, rev, nil
}

func runModelPull(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	revision := fs.String("revision", "", `branch, tag or commit to download (default "main")`)
	repo, rev, err := repoArg(fs, args, revision)
	if err != nil {
		return err
	}
	settings := hub.SettingsFromEnv()
	start := time.Now()
	dir, err := pullModel(ctx, settings, repo, rev, env.Stderr)
	if err != nil {
		return err
	}
	size := int64(0)
	if m, err := findCached(hub.Cache{Dir: settings.CacheDir}, repo); err == nil {
		size = m.Size
	}
	fmt.Fprintf(env.Stderr, "pulled %s (%s in the cache) in %s\n", repo, hub.FormatBytes(size), formatDuration(time.Since(start)))
	fmt.Fprintln(env.Stdout, dir)
	return nil
}

func runModelPath(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	revision := fs.String("revision", "", `branch, tag or commit (default: main, else the newest complete snapshot)`)
	repo, rev, err := repoArg(fs, args, revision)
	if err != nil {
		return err
	}
	dir, err := hub.Cache{Dir: hub.SettingsFromEnv().CacheDir}.Snapshot(repo, rev)
	if err != nil {
		if errors.Is(err, hub.ErrNotCached) {
			pull := repo
			if rev != "" {
				pull += " --revision " + rev
			}
			return fmt.Errorf("%w; download it with: captune model pull %s", err, pull)
		}
		return err
	}
	fmt.Fprintln(env.Stdout, dir)
	return nil
}

// cachedModelJSON is one line of captune model list --json.
type cachedModelJSON struct {
	Repo      string   `json:"repo"`
	Commit    string   `json:"commit"`
	Refs      []string `json:"refs"`
	Path      string   `json:"path"`
	Ready     bool     `json:"ready"`
	Problem   string   `json:"problem,omitempty"`
	RepoBytes int64    `json:"repo_bytes"`
}

func runModelList(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, `print one JSON object per snapshot: {"repo", "commit", "refs", "path", "ready", "problem", "repo_bytes"}`)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("list takes no arguments, got %q", pos)}
	}
	cache := hub.Cache{Dir: hub.SettingsFromEnv().CacheDir}
	models, err := cache.List()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, m := range models {
			for _, s := range m.Snapshots {
				refs := s.Refs
				if refs == nil {
					refs = []string{}
				}
				enc.Encode(cachedModelJSON{m.Repo, s.Commit, refs, s.Dir, s.Complete, s.Problem, m.Size})
			}
		}
		return nil
	}
	fmt.Fprintf(env.Stderr, "Hugging Face cache: %s\n", cache.Dir)
	if len(models) == 0 {
		fmt.Fprintf(env.Stderr, "no models yet: captune model pull Salesforce/blip-image-captioning-base downloads one\n")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPO\tREFS\tCOMMIT\tSIZE\tSTATE")
	sort.SliceStable(models, func(i, j int) bool { return strings.ToLower(models[i].Repo) < strings.ToLower(models[j].Repo) })
	for _, m := range models {
		if len(m.Snapshots) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\tno snapshot (partial download)\n", m.Repo, hub.FormatBytes(m.Size))
		}
		for i, s := range m.Snapshots {
			size := hub.FormatBytes(m.Size)
			if i > 0 {
				size = `"`
			}
			state := "ready"
			if !s.Complete {
				state = "missing " + strings.TrimPrefix(s.Problem, "no ")
			}
			refs := strings.Join(s.Refs, ",")
			if refs == "" {
				refs = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.12s\t%s\t%s\n", m.Repo, refs, s.Commit, size, state)
		}
	}
	return tw.Flush()
}

func findCached(c hub.Cache, repo string) (hub.CachedModel, error) {
	models, err := c.List()
	if err != nil {
		return hub.CachedModel{}, err
	}
	for _, m := range models {
		if m.Repo == repo {
			return m, nil
		}
	}
	return hub.CachedModel{}, hub.ErrNotCached
}

// pullProgress draws a pull on one self-overwriting line of a terminal stream: file, bytes of the
// whole model, bar, rate and ETA. The hub package already calls at most every 100 ms.
type pullProgress struct {
	w       io.Writer
	drawn   bool
	resumes int
}

func newPullProgress(w io.Writer) *pullProgress {
	return &pullProgress{w: w}
}

// Update redraws the line; a resumed transfer gets a line of its own, so that it stays visible.
func (p *pullProgress) Update(pr hub.Progress) {
	if pr.Resumes > p.resumes {
		p.resumes = pr.Resumes
		if p.drawn {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "note: %s\n", pr.Note)
	}
	eta := "--:--"
	if pr.ETA >= 0 {
		eta = formatDuration(pr.ETA)
	}
	rate := "-"
	if pr.BytesPerSecond > 0 {
		rate = hub.FormatBytes(int64(pr.BytesPerSecond)) + "/s"
	}
	done, total := clampInt(pr.Done), clampInt(pr.Total)
	fmt.Fprintf(p.w, "\rpull %s %d/%d %s %s %s/%s %s ETA %s\x1b[K", pr.Repo, pr.FileIndex, pr.Files, pr.File,
		drawBar(done, total), hub.FormatBytes(pr.Done), hub.FormatBytes(pr.Total), rate, eta)
	p.drawn = true
}

// Finish ends the line.
func (p *pullProgress) Finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// clampInt converts a byte count for drawBar, in KiB so that it fits an int on 32-bit systems.
func clampInt(n int64) int {
	return int(n >> 10)
}
