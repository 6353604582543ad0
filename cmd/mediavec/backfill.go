package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mediavec/mediavec/queue"
)

// videoExts are the file name extensions backfill takes from a folder.
var videoExts = []string{".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".ts", ".mpg", ".mpeg", ".3gp", ".ogv", ".gif"}

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backfill", "backfill --from DIR|FILE.jsonl [flags]", stderr)
	nopts := natsConnFlags(fs)
	from := fs.String("from", "", "a folder of videos (ids are the file names without extension), or a JSON-lines file of jobs ({\"video_id\", \"source\", \"text\"?, \"spaces\"?})")
	reprocess := fs.Bool("reprocess", false, "queue videos already indexed (or queued) too, and re-embed them")
	generation := fs.Int("generation", 0, "a rollout's backfill: queue every video not yet indexed in this generation (resumable)")
	rate := fs.Float64("rate", 0, "at most this many jobs a second (0: as fast as NATS takes them)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: give --from DIR or --from FILE.jsonl", errUsage)
	}
	jobs, err := backfillJobs(*from)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(ctx, nopts, "mediavec backfill")
	if err != nil {
		return err
	}
	defer nc.Close()
	statuses, err := queue.OpenStatuses(ctx, js)
	if err != nil {
		return fmt.Errorf("%w (is `mediavec up` or a worker running at %s?)", err, redactURL(*nopts.url))
	}

	bar := progressbar.NewOptions(len(jobs),
		progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("backfill"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("jobs"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetVisibility(!*quiet), progressbar.OptionClearOnFinish())
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		tick = t.C
	}
	queued, skipped := 0, 0
	for _, job := range jobs {
		if err := ctx.Err(); err != nil {
			bar.Exit()
			fmt.Fprintf(stdout, "backfill stopped: %d queued, %d skipped, %d left; run it again to resume\n", queued, skipped, len(jobs)-queued-skipped)
			return nil
		}
		if !*reprocess {
			// Resuming: what is indexed (in the generation asked for), or
			// already on a lane, is not queued again.
			st, err := statuses.Get(ctx, job.VideoID)
			if err != nil && !errors.Is(err, queue.ErrUnknownVideo) {
				return err
			}
			done := slices.Contains([]string{queue.StateIndexed, queue.StateDuplicate}, st.State) && (*generation == 0 || st.Generation >= *generation)
			if err == nil && (done || st.State == queue.StateQueued || st.State == queue.StateProcessing) {
				skipped++
				_ = bar.Add(1)
				continue
			}
		}
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
				continue
			}
		}
		job.Reprocess = *reprocess
		if *generation > 0 {
			// The same id on every run of this generation's backfill, so a
			// restarted one is deduplicated.
			job.JobID += fmt.Sprintf("-g%d", *generation)
		} else if *reprocess {
			// A new job id: a re-run must not be dropped as a duplicate of
			// the first one.
			job.JobID += fmt.Sprintf("-r%d", time.Now().UnixNano())
		}
		if _, err := queue.Submit(ctx, js, statuses, job, true); err != nil {
			if ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("%s: %w", job.VideoID, err)
		}
		queued++
		_ = bar.Add(1)
	}
	_ = bar.Finish()
	fmt.Fprintf(stdout, "backfill: %d queued on the backfill lane, %d skipped (already indexed or queued)\n", queued, skipped)
	return nil
}

// backfillJobs reads the jobs of a folder or a JSON-lines file. Their ids
// are deterministic (a hash of video id and source), so a backfill that is
// stopped and run again publishes the same job ids, which JetStream's
// duplicate window drops if they were already taken.
func backfillJobs(from string) ([]queue.Job, error) {
	st, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var jobs []queue.Job
	if st.IsDir() {
		entries, err := os.ReadDir(from)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !slices.Contains(videoExts, strings.ToLower(filepath.Ext(e.Name()))) {
				continue
			}
			job, err := jobFor(filepath.Join(from, e.Name()), "")
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, job)
		}
		sort.Slice(jobs, func(i, j int) bool { return jobs[i].VideoID < jobs[j].VideoID })
	} else {
		f, err := os.Open(from)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			var job queue.Job
			if err := json.Unmarshal([]byte(text), &job); err != nil {
				return nil, fmt.Errorf("%w: %s line %d: %v", errUsage, from, line, err)
			}
			if strings.HasPrefix(job.Source, "/") {
				job.Source = queue.FileURL(filepath.Clean(job.Source))
			}
			job.V = queue.JobVersion
			if err := job.Validate(); err != nil {
				return nil, fmt.Errorf("%w: %s line %d: %v", errUsage, from, line, err)
			}
			jobs = append(jobs, job)
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	for i := range jobs {
		if jobs[i].JobID == "" {
			sum := sha256.Sum256([]byte(jobs[i].VideoID + "\x00" + jobs[i].Source))
			jobs[i].JobID = "bf-" + hex.EncodeToString(sum[:8])
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%w: no videos in %s", errUsage, from)
	}
	return jobs, nil
}
