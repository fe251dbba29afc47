package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/runinfo"
)

// showEstimate measures what the run of cfg on d costs and prints it to w as an "estimate:" line
// and one "hint:" line per piece of advice; progress goes to env.Stderr.
func showEstimate(ctx context.Context, env *Env, w io.Writer, cfg finetune.Config, d finetune.Data) error {
	drew := false
	est, err := finetune.Estimate(ctx, cfg, d, finetune.DefaultCalibration, func(p finetune.Progress) {
		if p.Phase != runinfo.PhaseEstimate {
			return
		}
		drew = true
		if p.Total > 0 {
			fmt.Fprintf(env.Stderr, "\restimate: %s (%d/%d)\x1b[K", p.Message, p.Step+1, p.Total)
		} else {
			fmt.Fprintf(env.Stderr, "\restimate: %s\x1b[K", p.Message)
		}
	})
	if drew {
		fmt.Fprint(env.Stderr, "\r\x1b[K")
	}
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	fmt.Fprintf(w, "estimate: %s\n", est)
	for _, a := range est.Advice {
		fmt.Fprintf(w, "hint: %s\n", a)
	}
	return nil
}

// estimateBeforeTraining runs showEstimate as runFinetune wants it: only (--estimate: the result
// on stdout, then stop), before training (on stderr; a failed estimate is a warning unless the run
// was cancelled), or not at all (--no-estimate, --resume). done reports that the command is over.
func estimateBeforeTraining(ctx context.Context, env *Env, cfg finetune.Config, d finetune.Data, only, skip bool) (done bool, err error) {
	switch {
	case only && skip:
		return true, &ExitError{Code: 2, Err: errors.New("--estimate and --no-estimate exclude each other")}
	case only:
		return true, showEstimate(ctx, env, env.Stdout, cfg, d)
	case skip || cfg.Resume:
		return false, nil
	}
	if err := showEstimate(ctx, env, env.Stderr, cfg, d); err != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		fmt.Fprintf(env.Stderr, "warning: %v\n", err)
	}
	return false, nil
}
