package conf

import "errors"

// Keyspace notification classes: the bits of notify-keyspace-events, as Redis numbers them
// (NOTIFY_KEYSPACE ... NOTIFY_NEW).
const (
	NotifyKeyspace = 1 << iota // K: __keyspace@<db>__ channels
	NotifyKeyevent             // E: __keyevent@<db>__ channels
	NotifyGeneric              // g: DEL, EXPIRE, RENAME ...
	NotifyString               // $
	NotifyList                 // l
	NotifySet                  // s
	NotifyHash                 // h
	NotifyZSet                 // z
	NotifyExpired              // x
	NotifyEvicted              // e (never fired: eviction drops only cached copies)
	NotifyStream               // t
	NotifyKeyMiss              // m: excluded from A
	NotifyLoaded               // module key loaded (no letter)
	NotifyModule               // d
	NotifyNew                  // n: excluded from A

	// NotifyAll is what A stands for.
	NotifyAll = NotifyGeneric | NotifyString | NotifyList | NotifySet | NotifyHash | NotifyZSet |
		NotifyExpired | NotifyEvicted | NotifyStream | NotifyModule
)

// notifyLetters maps each class letter to its bits, in the order Redis writes them back.
var notifyLetters = []struct {
	letter byte
	bits   int
}{
	{'g', NotifyGeneric}, {'$', NotifyString}, {'l', NotifyList}, {'s', NotifySet},
	{'h', NotifyHash}, {'z', NotifyZSet}, {'x', NotifyExpired}, {'e', NotifyEvicted},
	{'t', NotifyStream}, {'d', NotifyModule}, {'n', NotifyNew},
}

var errEventClass = errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")

// ParseKeyspaceEvents reads notify-keyspace-events text into class bits, as Redis's
// keyspaceEventsStringToFlags does; any other character is an error.
func ParseKeyspaceEvents(s string) (int, error) {
	flags := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case 'A':
			flags |= NotifyAll
		case 'K':
			flags |= NotifyKeyspace
		case 'E':
			flags |= NotifyKeyevent
		case 'm':
			flags |= NotifyKeyMiss
		default:
			found := false
			for _, l := range notifyLetters {
				if l.letter == ch {
					flags |= l.bits
					found = true
				}
			}
			if !found {
				return 0, errEventClass
			}
		}
	}
	return flags, nil
}

// FormatKeyspaceEvents writes class bits back as Redis's keyspaceEventsFlagsToString does:
// "A" for every class it covers (so "n", which A leaves out, is not written beside it, as in
// Redis), then the single classes, then K, E and m.
func FormatKeyspaceEvents(flags int) string {
	var out []byte
	if flags&NotifyAll == NotifyAll {
		out = append(out, 'A')
	} else {
		for _, l := range notifyLetters {
			if flags&l.bits != 0 {
				out = append(out, l.letter)
			}
		}
	}
	if flags&NotifyKeyspace != 0 {
		out = append(out, 'K')
	}
	if flags&NotifyKeyevent != 0 {
		out = append(out, 'E')
	}
	if flags&NotifyKeyMiss != 0 {
		out = append(out, 'm')
	}
	return string(out)
}
