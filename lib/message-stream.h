/* SPDX-License-Identifier: MIT */
/*
 * The stream a message belongs to, for the message types that have one.
 *
 * Inline because the flow and the merge call it for every message.
 */
#ifndef VMTRACE_LIB_MESSAGE_STREAM_H
#define VMTRACE_LIB_MESSAGE_STREAM_H

#include <babeltrace2/babeltrace.h>

/* Borrowed; NULL for message iterator inactivity messages. */
static inline const bt_stream *vmt_message_borrow_stream(const bt_message *msg)
{
	switch (bt_message_get_type(msg)) {
	case BT_MESSAGE_TYPE_EVENT:
		return bt_event_borrow_stream_const(bt_message_event_borrow_event_const(msg));
	case BT_MESSAGE_TYPE_STREAM_BEGINNING:
		return bt_message_stream_beginning_borrow_stream_const(msg);
	case BT_MESSAGE_TYPE_STREAM_END:
		return bt_message_stream_end_borrow_stream_const(msg);
	case BT_MESSAGE_TYPE_PACKET_BEGINNING:
		return bt_packet_borrow_stream_const(
			bt_message_packet_beginning_borrow_packet_const(msg));
	case BT_MESSAGE_TYPE_PACKET_END:
		return bt_packet_borrow_stream_const(
			bt_message_packet_end_borrow_packet_const(msg));
	case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
		return bt_message_discarded_events_borrow_stream_const(msg);
	case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
		return bt_message_discarded_packets_borrow_stream_const(msg);
	default:
		return NULL;
	}
}

#endif /* VMTRACE_LIB_MESSAGE_STREAM_H */
