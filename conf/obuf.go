package conf

import (
	"errors"
	"strconv"
	"strings"
)

// OutputBufferLimit is one client class's client-output-buffer-limit: a client whose
// pending output passes Hard, or stays above Soft for more than SoftSeconds, is closed.
// Zero disables a limit.
type OutputBufferLimit struct {
	Hard, Soft  int64
	SoftSeconds int64
}

// Output buffer limit classes, in the order Redis lists them.
const (
	ClassNormal = iota
	ClassReplica
	ClassPubsub
	numClasses
)

var classNames = [numClasses]string{"normal", "slave", "pubsub"}

// OutputBufferLimits parses the normalized client-output-buffer-limit text into one limit
// per class (ClassNormal, ClassReplica, ClassPubsub).
func OutputBufferLimits(s string) [3]OutputBufferLimit {
	var out [3]OutputBufferLimit
	f := strings.Fields(s)
	for i := 0; i+3 < len(f); i += 4 {
		class, ok := parseClass(f[i])
		if !ok {
			continue
		}
		// Sizes in bytes as CONFIG GET writes them, or in redis.conf units.
		out[class].Hard, _ = ParseMemory(f[i+1])
		out[class].Soft, _ = ParseMemory(f[i+2])
		out[class].SoftSeconds, _ = strconv.ParseInt(f[i+3], 10, 64)
	}
	return out
}

func parseClass(name string) (int, bool) {
	switch strings.ToLower(name) {
	case "normal":
		return ClassNormal, true
	case "slave", "replica":
		return ClassReplica, true
	case "pubsub":
		return ClassPubsub, true
	}
	return 0, false
}

// parseOutputBufferLimits applies text (groups of "class hard soft seconds", sizes in
// redis.conf units) over the current normalized value cur, as Redis's CONFIG SET does: the
// classes named change, the others keep their limits. The result is written as CONFIG GET
// answers it, with the byte counts spelled out and "slave" for replicas.
func parseOutputBufferLimits(cur, text string) (string, error) {
	limits := OutputBufferLimits(cur)
	f := strings.Fields(text)
	if len(f)%4 != 0 {
		return "", errors.New("Wrong number of arguments in buffer limit configuration.")
	}
	for i := 0; i < len(f); i += 4 {
		class, ok := parseClass(f[i])
		if !ok {
			return "", errors.New("Invalid client class specified in buffer limit configuration.")
		}
		hard, okH := ParseMemory(f[i+1])
		soft, okS := ParseMemory(f[i+2])
		secs, err := strconv.ParseInt(f[i+3], 10, 64)
		if !okH || !okS || err != nil || secs < 0 {
			return "", errors.New("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		limits[class] = OutputBufferLimit{Hard: hard, Soft: soft, SoftSeconds: secs}
	}
	parts := make([]string, 0, 4*numClasses)
	for class, l := range limits {
		parts = append(parts, classNames[class], strconv.FormatInt(l.Hard, 10),
			strconv.FormatInt(l.Soft, 10), strconv.FormatInt(l.SoftSeconds, 10))
	}
	return strings.Join(parts, " "), nil
}
