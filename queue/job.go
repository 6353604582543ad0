package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Stream, subject and consumer names: the contract with upstream publishers
// and downstream consumers. Changing one is a breaking change.
const (
	StreamJobs    = "MEDIAVEC_JOBS"
	StreamDLQ     = "MEDIAVEC_DLQ"
	StreamEvents  = "MEDIAVEC_EVENTS"
	BucketVideos  = "MEDIAVEC_VIDEOS"
	BucketContent = "MEDIAVEC_CONTENT"
	// BucketDeadJobs keeps whole the jobs too large for their dead letter.
	BucketDeadJobs   = "MEDIAVEC_DEAD_JOBS"
	SubjectUpload    = "mediavec.jobs.upload"
	SubjectBackfill  = "mediavec.jobs.backfill"
	SubjectDLQPrefix = "mediavec.dlq."
	SubjectIndexed   = "mediavec.events.indexed"
	SubjectFailed    = "mediavec.events.failed"
	ConsumerUpload   = "upload"
	ConsumerBackfill = "backfill"
	// JobVersion is the job schema version this build reads and writes.
	JobVersion = 1
)

// Job is one request to index a video: the versioned JSON that upstream
// upload pipelines publish on mediavec.jobs.upload or .backfill.
type Job struct {
	V         int      `json:"v"`
	JobID     string   `json:"job_id"`
	VideoID   string   `json:"video_id"`
	Source    string   `json:"source"`
	Text      *JobText `json:"text,omitempty"`
	Spaces    []string `json:"spaces,omitempty"`
	Reprocess bool     `json:"reprocess,omitempty"`
	// Budget is the most the job's analysis may cost, in CPU-seconds per
	// minute of video; over it, the costly frame models see fewer frames
	// (the status and the indexed event say what was skipped). 0: the
	// worker's default (none unless its --budget is set).
	Budget      float64   `json:"budget,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Budget is what a job's compute budget did to its analysis.
type Budget struct {
	// Limit is the budget, in CPU-seconds per minute of video; Full and
	// Estimate are the analysis's estimated cost before and after frames
	// were skipped for it.
	Limit    float64 `json:"limit"`
	Full     float64 `json:"full"`
	Estimate float64 `json:"estimate"`
	// Skipped counts, by analysis stage, the frames it did not see.
	Skipped map[string]int `json:"skipped,omitempty"`
	// Met says the estimate is within the limit.
	Met bool `json:"met"`
}

// Line says in words what the budget did.
func (b *Budget) Line() string {
	if b == nil {
		return ""
	}
	line := fmt.Sprintf("budget %g CPU-s per video minute: estimated %.1f", b.Limit, b.Estimate)
	if len(b.Skipped) > 0 {
		names := make([]string, 0, len(b.Skipped))
		for n := range b.Skipped {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, b.Skipped[n])
		}
		line += fmt.Sprintf(" (%.1f in full), frames skipped: %s", b.Full, strings.Join(parts, ", "))
	}
	if !b.Met {
		line += "; over budget even so"
	}
	return line
}

// JobText is caller-supplied text about the video.
type JobText struct {
	Title    string   `json:"title,omitempty"`
	Caption  string   `json:"caption,omitempty"`
	Hashtags []string `json:"hashtags,omitempty"`
}

// ErrInvalidJob is wrapped by every ParseJob / Validate failure: the message
// can never be processed and goes to the DLQ with cause "invalid".
var ErrInvalidJob = errors.New("invalid job")

// ParseJob decodes and validates a job message. Unknown fields are ignored.
func ParseJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, fmt.Errorf("%w: not JSON: %v", ErrInvalidJob, err)
	}
	return j, j.Validate()
}

// Validate checks the fields every job must have.
func (j Job) Validate() error {
	switch {
	case j.V == 0:
		return fmt.Errorf("%w: missing \"v\"", ErrInvalidJob)
	case j.V != JobVersion:
		return fmt.Errorf("%w: version %d, this worker reads version %d", ErrInvalidJob, j.V, JobVersion)
	case j.VideoID == "":
		return fmt.Errorf("%w: missing \"video_id\"", ErrInvalidJob)
	case len(j.VideoID) > 256:
		return fmt.Errorf("%w: \"video_id\" is longer than 256 bytes", ErrInvalidJob)
	case j.Source == "":
		return fmt.Errorf("%w: missing \"source\"", ErrInvalidJob)
	case j.Budget < 0 || math.IsNaN(j.Budget) || math.IsInf(j.Budget, 0):
		return fmt.Errorf("%w: \"budget\" %v is not a CPU-seconds figure of 0 or more", ErrInvalidJob, j.Budget)
	}
	u, err := url.Parse(j.Source)
	if err != nil {
		return fmt.Errorf("%w: source %q: %v", ErrInvalidJob, j.Source, err)
	}
	switch u.Scheme {
	case "file", "http", "https":
	default:
		return fmt.Errorf("%w: source %q: scheme must be file, http or https", ErrInvalidJob, j.Source)
	}
	return nil
}

// FileURL turns an absolute path into a file:// URL.
func FileURL(absPath string) string {
	return (&url.URL{Scheme: "file", Path: absPath}).String()
}

// DefaultJobID derives a job id from the video id and the submission time,
// so resubmitting the same video later is a new job, while a retried publish
// of the same submission is deduplicated by JetStream.
func DefaultJobID(videoID string, at time.Time) string {
	return strings.ReplaceAll(videoID, " ", "_") + "@" + at.UTC().Format("20060102T150405.000000000Z")
}
