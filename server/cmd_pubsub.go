package server

import (
	"sort"

	"github.com/stratadb/strata/engine"
)

// The pubsub group of redis.io: SUBSCRIBE and its kin, PUBLISH, SPUBLISH and PUBSUB. The
// registry and delivery live in pubsub.go. None of these touches data (shard channels are
// "keys" only for cluster routing: their key specs say not_key), so they take no locks.

func registerPubsubCommands(t *Table) {
	shardSpec := func(last int) []KeySpec {
		return []KeySpec{{Flags: "not_key", Begin: BeginSearch{Index: 1}, Find: FindKeys{LastKey: last, KeyStep: 1}}}
	}
	t.add(
		&Command{Name: "subscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelSubscribe}, Arity: -2, Flags: "pubsub noscript loading stale", Lock: LockNone,
			Handler: func(x *Ctx) { x.subscribe(subChannel, x.Args[1:]) },
			Group:   "pubsub", Since: "2.0.0", Summary: "Listen for messages published to the given channels",
			Complexity: "O(N) where N is the number of channels to subscribe to."},
		&Command{Name: "unsubscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelUnsubscribe}, Arity: -1, Flags: "pubsub noscript loading stale", Lock: LockNone,
			Handler: func(x *Ctx) { x.unsubscribe(subChannel, x.Args[1:]) },
			Group:   "pubsub", Since: "2.0.0", Summary: "Stop listening for messages posted to the given channels",
			Complexity: "O(N) where N is the number of clients already subscribed to a channel."},
		&Command{Name: "psubscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelSubscribe | ChannelPattern}, Arity: -2, Flags: "pubsub noscript loading stale", Lock: LockNone,
			Handler: func(x *Ctx) { x.subscribe(subPattern, x.Args[1:]) },
			Group:   "pubsub", Since: "2.0.0", Summary: "Listen for messages published to channels matching the given patterns",
			Complexity: "O(N) where N is the number of patterns the client is already subscribed to."},
		&Command{Name: "punsubscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelUnsubscribe | ChannelPattern}, Arity: -1, Flags: "pubsub noscript loading stale", Lock: LockNone,
			Handler: func(x *Ctx) { x.unsubscribe(subPattern, x.Args[1:]) },
			Group:   "pubsub", Since: "2.0.0", Summary: "Stop listening for messages posted to channels matching the given patterns",
			Complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."},
		&Command{Name: "ssubscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelSubscribe}, Arity: -2, Flags: "pubsub noscript loading stale", First: 1, Last: -1, Step: 1,
			Specs: shardSpec(-1), Lock: LockNone,
			Handler: func(x *Ctx) { x.subscribe(subShard, x.Args[1:]) },
			Group:   "pubsub", Since: "7.0.0", Summary: "Listen for messages published to the given shard channels",
			Complexity: "O(N) where N is the number of shard channels to subscribe to."},
		&Command{Name: "sunsubscribe", Channels: &ChannelSpec{First: 1, Last: -1, Flags: ChannelUnsubscribe}, Arity: -1, Flags: "pubsub noscript loading stale", First: 1, Last: -1, Step: 1,
			Specs: shardSpec(-1), Lock: LockNone,
			Handler: func(x *Ctx) { x.unsubscribe(subShard, x.Args[1:]) },
			Group:   "pubsub", Since: "7.0.0", Summary: "Stop listening for messages posted to the given shard channels",
			Complexity: "O(N) where N is the number of clients already subscribed to a shard channel."},
		&Command{Name: "publish", Channels: &ChannelSpec{First: 1, Last: 1, Flags: ChannelPublish}, Arity: 3, Flags: "pubsub loading stale fast may_replicate", Lock: LockNone,
			Handler: func(x *Ctx) { x.Int(int64(x.s.publish(x.Client, subChannel, x.Args[1], x.Args[2], false))) },
			Group:   "pubsub", Since: "2.0.0", Summary: "Post a message to a channel",
			Complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."},
		&Command{Name: "spublish", Channels: &ChannelSpec{First: 1, Last: 1, Flags: ChannelPublish}, Arity: 3, Flags: "pubsub loading stale fast may_replicate", First: 1, Last: 1, Step: 1,
			Specs: shardSpec(0), Lock: LockNone,
			Handler: func(x *Ctx) { x.Int(int64(x.s.publish(x.Client, subShard, x.Args[1], x.Args[2], false))) },
			Group:   "pubsub", Since: "7.0.0", Summary: "Post a message to a shard channel",
			Complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel."},
		&Command{Name: "pubsub", Arity: -2, Lock: LockNone,
			Group: "pubsub", Since: "2.8.0", Summary: "A container for Pub/Sub commands", Complexity: "Depends on subcommand.",
			Subs: subs("pubsub",
				&Command{Name: "channels", Arity: -2, Flags: "pubsub loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { cmdPubsubChannels(x, subChannel) },
					Since:   "2.8.0", Summary: "List active channels",
					Complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"},
				&Command{Name: "numsub", Arity: -2, Flags: "pubsub loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { cmdPubsubNumSub(x, subChannel) },
					Since:   "2.8.0", Summary: "Get the count of subscribers for channels",
					Complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels"},
				&Command{Name: "numpat", Arity: 2, Flags: "pubsub loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { x.Int(x.s.ps.count[subPattern].Load()) },
					Since:   "2.8.0", Summary: "Get the count of unique patterns pattern subscriptions", Complexity: "O(1)"},
				&Command{Name: "shardchannels", Arity: -2, Flags: "pubsub loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { cmdPubsubChannels(x, subShard) },
					Since:   "7.0.0", Summary: "List active shard channels",
					Complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."},
				&Command{Name: "shardnumsub", Arity: -2, Flags: "pubsub loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { cmdPubsubNumSub(x, subShard) },
					Since:   "7.0.0", Summary: "Get the count of subscribers for shard channels",
					Complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { x.help("PUBSUB", pubsubHelp) },
					Since:   "6.2.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
			)},
	)
}

var pubsubHelp = []string{
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*').",
	"NUMPAT",
	"    Return number of subscriptions to patterns.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers for the specified channels, excluding",
	"    pattern subscriptions(default: no channels).",
	"SHARDCHANNELS [<pattern>]",
	"    Return the currently active shard level channels matching a <pattern> (default: '*').",
	"SHARDNUMSUB [<shardchannel> ...]",
	"    Return the number of subscribers for the specified shard level channel(s)",
}

// cmdPubsubChannels is PUBSUB CHANNELS and SHARDCHANNELS: the names with subscribers that
// match the pattern (all of them without one), sorted (Redis's order is its dict's).
func cmdPubsubChannels(x *Ctx, kind int) {
	if len(x.Args) > 3 {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), x.Arg(0)))
		return
	}
	var pattern []byte
	if len(x.Args) == 3 {
		pattern = x.Args[2]
	}
	names := x.s.ps.matching(kind, pattern)
	sort.Strings(names)
	x.ArrayLen(len(names))
	for _, n := range names {
		x.BulkString(n)
	}
}

// cmdPubsubNumSub is PUBSUB NUMSUB and SHARDNUMSUB: each name and its subscriber count, as
// a flat array in RESP3 too (Redis 7.0's reply).
func cmdPubsubNumSub(x *Ctx, kind int) {
	x.ArrayLen(2 * (len(x.Args) - 2))
	for _, name := range x.Args[2:] {
		x.Bulk(name)
		x.Int(int64(x.s.ps.numSub(kind, string(name))))
	}
}

// allowedWhenSubscribed says whether a RESP2 client in pub/sub mode may run cmd.
func allowedWhenSubscribed(cmd *Command) bool {
	switch cmd.Name {
	case "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
		"punsubscribe", "quit", "reset":
		return true
	}
	return false
}
