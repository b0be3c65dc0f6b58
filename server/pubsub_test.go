package server_test

import (
	"strings"
	"testing"
)

// TestPubsubMatchesRedis: several subscribers (RESP2 and RESP3, channels, patterns, shard
// channels) and a publisher; every connection must receive what Redis's receive, in order,
// channel and pattern double delivery included.
func TestPubsubMatchesRedis(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"s1", "s2", "s3", "p"}, `
s1: SUBSCRIBE ch other
s2: PSUBSCRIBE c*
!s3: HELLO 3
s3: SUBSCRIBE ch
s3: PSUBSCRIBE *
p: PUBLISH ch m1
p: PUBLISH ch m2
p: PUBLISH chx m3
p: PUBLISH other m4
p: PUBLISH "" empty
p: PUBLISH ch ""
p: PUBSUB NUMSUB ch other nosuch
p: PUBSUB NUMSUB
p: PUBSUB NUMPAT
p: PUBSUB CHANNELS c*
p: PUBSUB CHANNELS nosuch*
s1: UNSUBSCRIBE ch
p: PUBLISH ch m5
s2: PUNSUBSCRIBE
p: PUBLISH ch m6
p: PUBSUB NUMPAT
s3: PUBLISH ch self
s3: GET k
s1: SSUBSCRIBE sh
p: SPUBLISH sh m
p: SPUBLISH other m
p: PUBSUB SHARDCHANNELS
p: PUBSUB SHARDCHANNELS s*
p: PUBSUB SHARDNUMSUB sh nosuch
s1: PING
s1: PING hi
s1: GET x
s1: SUNSUBSCRIBE
s1: UNSUBSCRIBE
s1: GET x
s2: SUBSCRIBE a a
s2: PUBLISH a x
s2: UNSUBSCRIBE a b
s2: GET x
s3: UNSUBSCRIBE
s3: PUNSUBSCRIBE nosuch *
s3: PUBLISH ch nobody
s3: SSUBSCRIBE x
s3: SPUBLISH x self
s3: RESET
p: PUBSUB SHARDNUMSUB x
s1: PSUBSCRIBE x*
s1: RESET
p: PUBSUB NUMPAT
s2: SUBSCRIBE q
s2: QUIT
p: PUBSUB NUMSUB q
p: PUBLISH q gone
`)
}

// TestKeyspaceEventsToSelf: a RESP3 client subscribed to its own keyspace events gets them
// before the reply of the command that caused them, as from Redis.
func TestKeyspaceEventsToSelf(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"a", "b"}, `
a: CONFIG SET notify-keyspace-events KEA
!a: HELLO 3
a: PSUBSCRIBE __key*__:*
a: SET k v
a: MSET k 1 j 2
a: HSET h f v
a: DEL k j h nosuch
b: SET k v
a: GET k
a: CONFIG SET notify-keyspace-events ""
a: SET k v
`)
}

// TestKeyspaceEventsToSelfEveryCommand runs the notification script on a RESP3 client
// subscribed to its own events: each message must sit where Redis puts it, before or after
// the reply of the command that caused it.
func TestKeyspaceEventsToSelfEveryCommand(t *testing.T) {
	t.Parallel()
	var script strings.Builder
	script.WriteString("a: CONFIG SET notify-keyspace-events KEAnm\n!a: HELLO 3\na: PSUBSCRIBE __key*__:*\n")
	for _, line := range strings.Split(notifyScript, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@events "):
			script.WriteString("!a: " + strings.TrimPrefix(line, "@events ") + "\n")
		default:
			script.WriteString("a: " + line + "\n")
		}
	}
	compareScenario(t, []string{"a"}, script.String())
}
