/* SPDX-License-Identifier: MIT */
/*
 * Trace-IR copy: field classes, every 2.0 type.
 *
 * A dynamic array's length field class and an option's or variant's
 * selector field class must be the copies that sit in the same output
 * tree. The input field path locates the input field class (walked from
 * the input root of its scope); the input -> output maps of the copy
 * context then give its copy, which exists already because the target of
 * a field path always comes before the field class that refers to it.
 */
#define VMT_LOG_TAG "VMTRACE/IR-COPY"
#include "lib/log.h"

#include <inttypes.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ir-copy-internal.h"

/* Field path resolution. */

/* The child of a structure or variant at `index`, or NULL if there is none. */
static const bt_field_class *borrow_indexed_child(const bt_field_class *fc, uint64_t index)
{
	bt_field_class_type type = bt_field_class_get_type(fc);

	if (type == BT_FIELD_CLASS_TYPE_STRUCTURE &&
	    index < bt_field_class_structure_get_member_count(fc)) {
		return bt_field_class_structure_member_borrow_field_class_const(
			bt_field_class_structure_borrow_member_by_index_const(fc, index));
	}

	if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_VARIANT) &&
	    index < bt_field_class_variant_get_option_count(fc)) {
		return bt_field_class_variant_option_borrow_field_class_const(
			bt_field_class_variant_borrow_option_by_index_const(fc, index));
	}

	return NULL;
}

/* One step down `fc` along `item`, or NULL if the item does not fit `fc`. */
static const bt_field_class *borrow_child(const bt_field_class *fc, const bt_field_path_item *item)
{
	bt_field_class_type type = bt_field_class_get_type(fc);

	switch (bt_field_path_item_get_type(item)) {
	case BT_FIELD_PATH_ITEM_TYPE_INDEX:
		return borrow_indexed_child(fc, bt_field_path_item_index_get_index(item));
	case BT_FIELD_PATH_ITEM_TYPE_CURRENT_ARRAY_ELEMENT:
		return bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_ARRAY) ?
			       bt_field_class_array_borrow_element_field_class_const(fc) :
			       NULL;
	case BT_FIELD_PATH_ITEM_TYPE_CURRENT_OPTION_CONTENT:
		return bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_OPTION) ?
			       bt_field_class_option_borrow_field_class_const(fc) :
			       NULL;
	default:
		return NULL;
	}
}

static const bt_field_class *walk_field_path(const struct vmt_ir_copy_fc_ctx *ctx,
					     const bt_field_path *path)
{
	bt_field_path_scope scope = bt_field_path_get_root_scope(path);
	uint64_t count = bt_field_path_get_item_count(path);
	const bt_field_class *fc;
	uint64_t i;

	if ((unsigned int) scope >= VMT_ARRAY_SIZE(ctx->in_scopes)) {
		return NULL;
	}

	fc = ctx->in_scopes[scope];
	for (i = 0; fc && i < count; i++) {
		fc = borrow_child(fc, bt_field_path_borrow_item_by_index_const(path, i));
	}

	return fc;
}

/* The output copy of the field class at `path`, or NULL after appending a cause. */
static bt_field_class *resolve_field_path(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_path *path,
					  const char *what)
{
	const bt_field_class *in_fc = path ? walk_field_path(ctx, path) : NULL;
	bt_field_class *out_fc = NULL;

	if (in_fc) {
		out_fc = g_hash_table_lookup(ctx->map, in_fc);
		if (!out_fc && ctx->outer_map) {
			out_fc = g_hash_table_lookup(ctx->outer_map, in_fc);
		}
	}

	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot find the copy of a %s field class: root-scope=%d, "
				      "in-fc-found=%s",
				      what, path ? (int) bt_field_path_get_root_scope(path) : -1,
				      in_fc ? "yes" : "no");
	}

	return out_fc;
}

/* Scalars: no child field class. */

static void copy_integer_props(const bt_field_class *in_fc, bt_field_class *out_fc)
{
	bt_field_class_integer_set_field_value_range(
		out_fc, bt_field_class_integer_get_field_value_range(in_fc));
	bt_field_class_integer_set_preferred_display_base(
		out_fc, bt_field_class_integer_get_preferred_display_base(in_fc));
}

/* Range sets are immutable shared objects: the input's are reused as they are. */
static enum vmt_status copy_enumeration_mappings(struct vmt_ir_copy_fc_ctx *ctx,
						 const bt_field_class *in_fc,
						 bt_field_class *out_fc, bool is_signed)
{
	uint64_t count = bt_field_class_enumeration_get_mapping_count(in_fc);
	bt_field_class_enumeration_add_mapping_status add_status;
	const char *label;
	uint64_t i;

	for (i = 0; i < count; i++) {
		if (is_signed) {
			const bt_field_class_enumeration_signed_mapping *mapping =
				bt_field_class_enumeration_signed_borrow_mapping_by_index_const(
					in_fc, i);

			label = bt_field_class_enumeration_mapping_get_label(
				bt_field_class_enumeration_signed_mapping_as_mapping_const(
					mapping));
			add_status = bt_field_class_enumeration_signed_add_mapping(
				out_fc, label,
				bt_field_class_enumeration_signed_mapping_borrow_ranges_const(
					mapping));
		} else {
			const bt_field_class_enumeration_unsigned_mapping *mapping =
				bt_field_class_enumeration_unsigned_borrow_mapping_by_index_const(
					in_fc, i);

			label = bt_field_class_enumeration_mapping_get_label(
				bt_field_class_enumeration_unsigned_mapping_as_mapping_const(
					mapping));
			add_status = bt_field_class_enumeration_unsigned_add_mapping(
				out_fc, label,
				bt_field_class_enumeration_unsigned_mapping_borrow_ranges_const(
					mapping));
		}

		if (add_status != BT_FIELD_CLASS_ENUMERATION_ADD_MAPPING_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
					      "Cannot add enumeration mapping: label=\"%s\"",
					      label);
			return VMT_STATUS_MEMORY_ERROR;
		}
	}

	return VMT_STATUS_OK;
}

/* Sets `*is_known` to false for a type that Babeltrace 2.0 does not have. */
static bt_field_class *create_scalar_shell(bt_trace_class *out_tc, const bt_field_class *in_fc,
					   bt_field_class_type type, bool *is_known)
{
	*is_known = true;
	switch (type) {
	case BT_FIELD_CLASS_TYPE_BOOL:
		return bt_field_class_bool_create(out_tc);
	case BT_FIELD_CLASS_TYPE_BIT_ARRAY:
		return bt_field_class_bit_array_create(out_tc,
						       bt_field_class_bit_array_get_length(in_fc));
	case BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER:
		return bt_field_class_integer_unsigned_create(out_tc);
	case BT_FIELD_CLASS_TYPE_SIGNED_INTEGER:
		return bt_field_class_integer_signed_create(out_tc);
	case BT_FIELD_CLASS_TYPE_UNSIGNED_ENUMERATION:
		return bt_field_class_enumeration_unsigned_create(out_tc);
	case BT_FIELD_CLASS_TYPE_SIGNED_ENUMERATION:
		return bt_field_class_enumeration_signed_create(out_tc);
	case BT_FIELD_CLASS_TYPE_SINGLE_PRECISION_REAL:
		return bt_field_class_real_single_precision_create(out_tc);
	case BT_FIELD_CLASS_TYPE_DOUBLE_PRECISION_REAL:
		return bt_field_class_real_double_precision_create(out_tc);
	case BT_FIELD_CLASS_TYPE_STRING:
		return bt_field_class_string_create(out_tc);
	default:
		*is_known = false;
		return NULL;
	}
}

static bt_field_class *create_scalar(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
				     bt_field_class_type type, enum vmt_status *status)
{
	bool is_known;
	bt_field_class *out_fc = create_scalar_shell(ctx->out_tc, in_fc, type, &is_known);

	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot create field class: type=%#" PRIx64
				      ", is-known-type=%d",
				      (uint64_t) type, is_known);
		*status = is_known ? VMT_STATUS_MEMORY_ERROR : VMT_STATUS_ERROR;
		return NULL;
	}

	if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_INTEGER)) {
		copy_integer_props(in_fc, out_fc);
	}

	if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_ENUMERATION)) {
		*status = copy_enumeration_mappings(ctx, in_fc, out_fc,
						    type == BT_FIELD_CLASS_TYPE_SIGNED_ENUMERATION);
		if (*status != VMT_STATUS_OK) {
			BT_FIELD_CLASS_PUT_REF_AND_RESET(out_fc);
		}
	}

	return out_fc;
}

/* Structures. */

static enum vmt_status append_member_copy(struct vmt_ir_copy_fc_ctx *ctx,
					  const bt_field_class *in_fc, bt_field_class *out_fc,
					  uint64_t index)
{
	const bt_field_class_structure_member *in_member =
		bt_field_class_structure_borrow_member_by_index_const(in_fc, index);
	const char *name = bt_field_class_structure_member_get_name(in_member);
	enum vmt_status status = VMT_STATUS_OK;
	bt_field_class *out_member_fc;

	out_member_fc = vmt_ir_copy_field_class(
		ctx, bt_field_class_structure_member_borrow_field_class_const(in_member), &status);
	if (!out_member_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot copy structure member: name=\"%s\"",
				      name);
		return status;
	}

	if (bt_field_class_structure_append_member(out_fc, name, out_member_fc) !=
	    BT_FIELD_CLASS_STRUCTURE_APPEND_MEMBER_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot append structure member: name=\"%s\"",
				      name);
		status = VMT_STATUS_MEMORY_ERROR;
	} else {
		bt_field_class_structure_member_set_user_attributes(
			bt_field_class_structure_borrow_member_by_index(out_fc, index),
			bt_field_class_structure_member_borrow_user_attributes_const(in_member));
	}

	bt_field_class_put_ref(out_member_fc);
	return status;
}

static bt_field_class *create_structure(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
					enum vmt_status *status)
{
	uint64_t count = bt_field_class_structure_get_member_count(in_fc);
	bt_field_class *out_fc = bt_field_class_structure_create(ctx->out_tc);
	uint64_t i;

	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot create structure field class.");
		*status = VMT_STATUS_MEMORY_ERROR;
		return NULL;
	}

	for (i = 0; i < count; i++) {
		*status = append_member_copy(ctx, in_fc, out_fc, i);
		if (*status != VMT_STATUS_OK) {
			BT_FIELD_CLASS_PUT_REF_AND_RESET(out_fc);
			break;
		}
	}

	return out_fc;
}

/* Arrays. */

static bt_field_class *create_array(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
				    bt_field_class_type type, enum vmt_status *status)
{
	bt_field_class *out_elem_fc, *out_length_fc = NULL, *out_fc = NULL;

	out_elem_fc = vmt_ir_copy_field_class(
		ctx, bt_field_class_array_borrow_element_field_class_const(in_fc), status);
	if (!out_elem_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot copy array element field class.");
		return NULL;
	}

	if (type == BT_FIELD_CLASS_TYPE_DYNAMIC_ARRAY_WITH_LENGTH_FIELD) {
		out_length_fc = resolve_field_path(
			ctx,
			bt_field_class_array_dynamic_with_length_field_borrow_length_field_path_const(
				in_fc),
			"length");
		if (!out_length_fc) {
			*status = VMT_STATUS_ERROR;
			goto end;
		}
	}

	if (type == BT_FIELD_CLASS_TYPE_STATIC_ARRAY) {
		out_fc = bt_field_class_array_static_create(
			ctx->out_tc, out_elem_fc, bt_field_class_array_static_get_length(in_fc));
	} else {
		out_fc = bt_field_class_array_dynamic_create(ctx->out_tc, out_elem_fc,
							     out_length_fc);
	}

	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot create array field class.");
		*status = VMT_STATUS_MEMORY_ERROR;
	}

end:
	bt_field_class_put_ref(out_elem_fc);
	return out_fc;
}

/* Options. */

static bt_field_class *create_option_with_selector(struct vmt_ir_copy_fc_ctx *ctx,
						   const bt_field_class *in_fc,
						   bt_field_class_type type,
						   bt_field_class *out_content_fc,
						   bt_field_class *out_selector_fc)
{
	bt_field_class *out_fc = NULL;

	switch (type) {
	case BT_FIELD_CLASS_TYPE_OPTION_WITH_BOOL_SELECTOR_FIELD:
		out_fc = bt_field_class_option_with_selector_field_bool_create(
			ctx->out_tc, out_content_fc, out_selector_fc);
		if (out_fc) {
			bt_field_class_option_with_selector_field_bool_set_selector_is_reversed(
				out_fc,
				bt_field_class_option_with_selector_field_bool_selector_is_reversed(
					in_fc));
		}
		break;
	case BT_FIELD_CLASS_TYPE_OPTION_WITH_UNSIGNED_INTEGER_SELECTOR_FIELD:
		out_fc = bt_field_class_option_with_selector_field_integer_unsigned_create(
			ctx->out_tc, out_content_fc, out_selector_fc,
			bt_field_class_option_with_selector_field_integer_unsigned_borrow_selector_ranges_const(
				in_fc));
		break;
	case BT_FIELD_CLASS_TYPE_OPTION_WITH_SIGNED_INTEGER_SELECTOR_FIELD:
		out_fc = bt_field_class_option_with_selector_field_integer_signed_create(
			ctx->out_tc, out_content_fc, out_selector_fc,
			bt_field_class_option_with_selector_field_integer_signed_borrow_selector_ranges_const(
				in_fc));
		break;
	default:
		break;
	}

	return out_fc;
}

static bt_field_class *create_option(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
				     bt_field_class_type type, enum vmt_status *status)
{
	bt_field_class *out_content_fc, *out_selector_fc, *out_fc = NULL;

	out_content_fc = vmt_ir_copy_field_class(
		ctx, bt_field_class_option_borrow_field_class_const(in_fc), status);
	if (!out_content_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot copy option's content field class.");
		return NULL;
	}

	if (type == BT_FIELD_CLASS_TYPE_OPTION_WITHOUT_SELECTOR_FIELD) {
		out_fc = bt_field_class_option_without_selector_create(ctx->out_tc, out_content_fc);
	} else {
		out_selector_fc = resolve_field_path(
			ctx,
			bt_field_class_option_with_selector_field_borrow_selector_field_path_const(
				in_fc),
			"option selector");
		if (!out_selector_fc) {
			*status = VMT_STATUS_ERROR;
			goto end;
		}

		out_fc = create_option_with_selector(ctx, in_fc, type, out_content_fc,
						     out_selector_fc);
	}

	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot create option field class.");
		*status = VMT_STATUS_MEMORY_ERROR;
	}

end:
	bt_field_class_put_ref(out_content_fc);
	return out_fc;
}

/* Variants. */

static bool append_variant_option(const bt_field_class *in_fc, bt_field_class *out_fc,
				  bt_field_class_type type, uint64_t index, const char *name,
				  bt_field_class *out_option_fc)
{
	if (type == BT_FIELD_CLASS_TYPE_VARIANT_WITH_UNSIGNED_INTEGER_SELECTOR_FIELD) {
		const bt_integer_range_set_unsigned *ranges =
			bt_field_class_variant_with_selector_field_integer_unsigned_option_borrow_ranges_const(
				bt_field_class_variant_with_selector_field_integer_unsigned_borrow_option_by_index_const(
					in_fc, index));

		return bt_field_class_variant_with_selector_field_integer_unsigned_append_option(
			       out_fc, name, out_option_fc, ranges) ==
		       BT_FIELD_CLASS_VARIANT_WITH_SELECTOR_FIELD_APPEND_OPTION_STATUS_OK;
	}

	if (type == BT_FIELD_CLASS_TYPE_VARIANT_WITH_SIGNED_INTEGER_SELECTOR_FIELD) {
		const bt_integer_range_set_signed *ranges =
			bt_field_class_variant_with_selector_field_integer_signed_option_borrow_ranges_const(
				bt_field_class_variant_with_selector_field_integer_signed_borrow_option_by_index_const(
					in_fc, index));

		return bt_field_class_variant_with_selector_field_integer_signed_append_option(
			       out_fc, name, out_option_fc, ranges) ==
		       BT_FIELD_CLASS_VARIANT_WITH_SELECTOR_FIELD_APPEND_OPTION_STATUS_OK;
	}

	return bt_field_class_variant_without_selector_append_option(out_fc, name, out_option_fc) ==
	       BT_FIELD_CLASS_VARIANT_WITHOUT_SELECTOR_FIELD_APPEND_OPTION_STATUS_OK;
}

static enum vmt_status append_variant_option_copy(struct vmt_ir_copy_fc_ctx *ctx,
						  const bt_field_class *in_fc,
						  bt_field_class *out_fc, bt_field_class_type type,
						  uint64_t index)
{
	const bt_field_class_variant_option *in_option =
		bt_field_class_variant_borrow_option_by_index_const(in_fc, index);
	const char *name = bt_field_class_variant_option_get_name(in_option);
	enum vmt_status status = VMT_STATUS_OK;
	bt_field_class *out_option_fc;

	out_option_fc = vmt_ir_copy_field_class(
		ctx, bt_field_class_variant_option_borrow_field_class_const(in_option), &status);
	if (!out_option_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot copy variant option: name=\"%s\"",
				      name ? name : "");
		return status;
	}

	if (!append_variant_option(in_fc, out_fc, type, index, name, out_option_fc)) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot append variant option: name=\"%s\"",
				      name ? name : "");
		status = VMT_STATUS_MEMORY_ERROR;
	} else {
		bt_field_class_variant_option_set_user_attributes(
			bt_field_class_variant_borrow_option_by_index(out_fc, index),
			bt_field_class_variant_option_borrow_user_attributes_const(in_option));
	}

	bt_field_class_put_ref(out_option_fc);
	return status;
}

static bt_field_class *create_variant(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
				      bt_field_class_type type, enum vmt_status *status)
{
	uint64_t count = bt_field_class_variant_get_option_count(in_fc);
	bt_field_class *out_selector_fc = NULL, *out_fc;
	uint64_t i;

	if (type != BT_FIELD_CLASS_TYPE_VARIANT_WITHOUT_SELECTOR_FIELD) {
		out_selector_fc = resolve_field_path(
			ctx,
			bt_field_class_variant_with_selector_field_borrow_selector_field_path_const(
				in_fc),
			"variant selector");
		if (!out_selector_fc) {
			*status = VMT_STATUS_ERROR;
			return NULL;
		}
	}

	out_fc = bt_field_class_variant_create(ctx->out_tc, out_selector_fc);
	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log, "Cannot create variant field class.");
		*status = VMT_STATUS_MEMORY_ERROR;
		return NULL;
	}

	for (i = 0; i < count; i++) {
		*status = append_variant_option_copy(ctx, in_fc, out_fc, type, i);
		if (*status != VMT_STATUS_OK) {
			BT_FIELD_CLASS_PUT_REF_AND_RESET(out_fc);
			break;
		}
	}

	return out_fc;
}

/* Dispatch. */

bt_field_class *vmt_ir_copy_field_class(struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc,
					enum vmt_status *status)
{
	bt_field_class_type type = bt_field_class_get_type(in_fc);
	bt_field_class *out_fc;

	*status = VMT_STATUS_OK;
	if (type == BT_FIELD_CLASS_TYPE_STRUCTURE) {
		out_fc = create_structure(ctx, in_fc, status);
	} else if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_ARRAY)) {
		out_fc = create_array(ctx, in_fc, type, status);
	} else if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_OPTION)) {
		out_fc = create_option(ctx, in_fc, type, status);
	} else if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_VARIANT)) {
		out_fc = create_variant(ctx, in_fc, type, status);
	} else {
		out_fc = create_scalar(ctx, in_fc, type, status);
	}

	if (!out_fc) {
		return NULL;
	}

	/* User attributes are frozen, hence shareable. */
	bt_field_class_set_user_attributes(out_fc,
					   bt_field_class_borrow_user_attributes_const(in_fc));
	/* Weak on both sides: the output lives in its parent or scope, the input upstream. */
	g_hash_table_insert(ctx->map, (gpointer) in_fc, out_fc);
	return out_fc;
}
