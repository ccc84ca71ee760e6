/* SPDX-License-Identifier: MIT */
/*
 * The private graph: a source component class created at run time (its
 * iterator drives the simulation) connected to `sink.ctf.fs`, which lays
 * out LTTng >= 2.11 traces as `<hostname>/<trace_name>-<datetime>/kernel`
 * (and `.../ust/uid/0/64-bit`) under `DIR/traces`.
 */
#include <string.h>

#include "vmsim.h"

struct vmsim_iter {
	struct vmsim *sim; /* Weak: owned by main(). */
	GPtrArray *pending; /* Owned messages not handed out yet. */
	guint pos;
};

static bt_component_class_initialize_method_status
src_init(bt_self_component_source *self, bt_self_component_source_configuration *config,
	 const bt_value *params, void *init_data)
{
	(void) config;
	(void) params;
	bt_self_component_set_data(bt_self_component_source_as_self_component(self), init_data);
	if (bt_self_component_source_add_output_port(self, "out", NULL, NULL) !=
	    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
	}
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

static bt_message_iterator_class_initialize_method_status
iter_init(bt_self_message_iterator *self, bt_self_message_iterator_configuration *config,
	  bt_self_component_port_output *port)
{
	bt_self_component *comp = bt_self_message_iterator_borrow_component(self);
	struct vmsim_iter *it = g_new0(struct vmsim_iter, 1);

	(void) config;
	(void) port;
	it->sim = bt_self_component_get_data(comp);
	it->pending = g_ptr_array_new();
	bt_self_message_iterator_set_data(self, it);
	if (!vmsim_ir_create(it->sim, comp)) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_MESSAGE_ITERATOR(
			self, "Cannot create the trace IR of the simulated traces");
		return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
	}
	return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

static void iter_finalize(bt_self_message_iterator *self)
{
	struct vmsim_iter *it = bt_self_message_iterator_get_data(self);

	for (guint i = it->pos; i < it->pending->len; i++) {
		bt_message_put_ref(g_ptr_array_index(it->pending, i));
	}
	g_ptr_array_free(it->pending, TRUE);
	vmsim_ir_destroy(it->sim);
	g_free(it);
}

/* Refills `pending`; returns false at the end of everything. */
static bool refill(bt_self_message_iterator *self, struct vmsim_iter *it, bool *error)
{
	struct vmsim_rec rec;
	bool have;

	g_ptr_array_set_size(it->pending, 0);
	it->pos = 0;
	have = vmsim_merge_pop(it->sim, &rec);

	while (!have) {
		bool running = vmsim_sched_step(it->sim);

		have = vmsim_merge_pop(it->sim, &rec);
		if (!have && !running) {
			return false;
		}
	}
	if (!vmsim_emit_rec(it->sim, self, &rec, it->pending)) {
		BT_CURRENT_THREAD_ERROR_APPEND_CAUSE_FROM_MESSAGE_ITERATOR(
			self, "Cannot create messages: kind=%d", rec.kind);
		*error = true;
		return false;
	}
	return true;
}

static bt_message_iterator_class_next_method_status iter_next(bt_self_message_iterator *self,
							      bt_message_array_const msgs,
							      uint64_t capacity, uint64_t *count)
{
	struct vmsim_iter *it = bt_self_message_iterator_get_data(self);
	bool error = false;

	*count = 0;
	while (*count < capacity) {
		if (it->pos < it->pending->len) {
			msgs[(*count)++] = g_ptr_array_index(it->pending, it->pos++);
			continue;
		}
		if (!refill(self, it, &error)) {
			break;
		}
	}
	if (error) {
		return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_ERROR;
	}
	return *count ? BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK :
			BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_END;
}

static bt_component_class_source *make_source_class(void)
{
	bt_message_iterator_class *ic = bt_message_iterator_class_create(iter_next);
	bt_component_class_source *cls = NULL;

	if (!ic) {
		return NULL;
	}
	bt_message_iterator_class_set_initialize_method(ic, iter_init);
	bt_message_iterator_class_set_finalize_method(ic, iter_finalize);
	cls = bt_component_class_source_create("vmsim", ic);
	if (cls) {
		bt_component_class_source_set_initialize_method(cls, src_init);
	}
	bt_message_iterator_class_put_ref(ic);
	return cls;
}

static void print_error(void)
{
	const bt_error *err = bt_current_thread_take_error();

	if (!err) {
		return;
	}
	for (uint64_t i = 0; i < bt_error_get_cause_count(err); i++) {
		const bt_error_cause *c = bt_error_borrow_cause_by_index(err, i);

		fprintf(stderr, "vmsim: %s\n", bt_error_cause_get_message(c));
	}
	bt_error_release(err);
}

static bool add_sink(struct vmsim *sim, bt_graph *graph, const bt_component_sink **sink)
{
	const bt_plugin *plugin = NULL;
	bt_value *params = bt_value_map_create();
	gchar *path = g_build_filename(sim->out_dir, "traces", NULL);
	bool ok = false;

	if (bt_plugin_find("ctf", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, &plugin) !=
		    BT_PLUGIN_FIND_STATUS_OK ||
	    !params) {
		fprintf(stderr, "vmsim: cannot find the `ctf` plugin\n");
		goto end;
	}
	if (bt_value_map_insert_string_entry(params, "path", path) ||
	    bt_value_map_insert_bool_entry(params, "quiet", BT_TRUE)) {
		goto end;
	}
	ok = bt_graph_add_sink_component(
		     graph, bt_plugin_borrow_sink_component_class_by_name_const(plugin, "fs"),
		     "sink", params, BT_LOGGING_LEVEL_WARNING,
		     sink) == BT_GRAPH_ADD_COMPONENT_STATUS_OK;
end:
	bt_plugin_put_ref(plugin);
	bt_value_put_ref(params);
	g_free(path);
	return ok;
}

static bool build_graph(struct vmsim *sim, bt_graph *graph, bt_component_class_source *cls)
{
	const bt_component_source *src = NULL;
	const bt_component_sink *sink = NULL;

	if (bt_graph_add_source_component_with_initialize_method_data(
		    graph, cls, "vmsim", NULL, sim, BT_LOGGING_LEVEL_WARNING, &src) !=
		    BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    !add_sink(sim, graph, &sink)) {
		return false;
	}
	return bt_graph_connect_ports(graph,
				      bt_component_source_borrow_output_port_by_index_const(src, 0),
				      bt_component_sink_borrow_input_port_by_index_const(sink, 0),
				      NULL) == BT_GRAPH_CONNECT_PORTS_STATUS_OK;
}

bool vmsim_graph_run(struct vmsim *sim)
{
	bt_graph *graph = bt_graph_create(0);
	bt_component_class_source *cls = make_source_class();
	bt_graph_run_status st = BT_GRAPH_RUN_STATUS_ERROR;

	if (graph && cls && build_graph(sim, graph, cls)) {
		do {
			st = bt_graph_run(graph);
		} while (st == BT_GRAPH_RUN_STATUS_AGAIN);
	}
	if (st != BT_GRAPH_RUN_STATUS_OK) {
		fprintf(stderr, "vmsim: the trace-writing graph failed (status %d)\n", (int) st);
		print_error();
	}
	bt_graph_put_ref(graph);
	bt_component_class_source_put_ref(cls);
	return st == BT_GRAPH_RUN_STATUS_OK;
}
