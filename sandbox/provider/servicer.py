"""The gRPC servicer: the framework's, with planning done the real provider's way.

`tf`'s own PlanResourceChange leaves computed attributes inside nested blocks
null, knows replacement only for top-level attributes and rejects destroy
plans. This subclass plans creates, updates and destroys for any block
structure, asks each resource for its own plan adjustments, and shapes read
and apply results with `state.settle` so a second plan after apply is empty.
"""
from __future__ import annotations

import json
from copy import deepcopy

from tf.gen import tfplugin_pb2 as pb
from tf.iface import (CreateContext, DeleteContext, ImportContext, PlanContext, ReadContext,
                      UpdateContext, UpgradeContext)
from tf.provider import ProviderServicer, _decode_state, _encode_state, _log_errors
from tf.utils import Diagnostics, _to_attribute_path

from sandbox.provider import state as st
from sandbox.provider.errors import describe


class HcloudServicer(ProviderServicer):

    def _parts(self, type_name: str):
        klass = self._get_res_cls(type_name)
        return (klass, klass.get_schema(), self._get_res_attrs(type_name),
                self._get_res_blocks(type_name))

    @_log_errors
    def PlanResourceChange(self, request, context):
        diags = Diagnostics()
        klass, schema, attrs, blocks = self._parts(request.type_name)
        _, prior = _decode_state(diags, attrs, blocks, request.prior_state)
        proposed_enc, proposed = _decode_state(diags, attrs, blocks, request.proposed_new_state)
        if diags.has_errors():
            return pb.PlanResourceChange.Response(diagnostics=diags.to_pb())
        proposed = st.apply_defaults(schema, klass.DEFAULTS, proposed)
        if proposed is None:
            # Destroy: nothing to plan beyond the null state Terraform proposes.
            return pb.PlanResourceChange.Response(
                planned_state=request.proposed_new_state, diagnostics=diags.to_pb())
        inst = self.app.new_resource(klass)
        replace: list[str] = []
        if prior is None:
            planned = st.mark_computed_unknown(schema, st.complete(schema, proposed))
            changed = set(planned)
        else:
            planned = st.carry_computed(schema, prior, st.complete(schema, proposed))
            changed = {k for k in planned if not _same(attrs, blocks, k, prior.get(k), planned[k])}
            replace = sorted(k for k in changed if k in klass.REPLACE)
        try:
            planned = inst.plan(PlanContext(diags, request.type_name, changed_fields=changed),
                                deepcopy(prior), planned)
        except Exception as exc:  # a plan-time API lookup failed
            diags.add_error(f"planning {request.type_name}: {describe(exc)}")
            return pb.PlanResourceChange.Response(diagnostics=diags.to_pb())
        if prior is not None:
            # The resource may have reshaped values (user_data becomes its hash).
            changed = {k for k in planned
                       if not _same(attrs, blocks, k, prior.get(k), planned[k])}
            replace = sorted(k for k in changed if k in klass.REPLACE)
        return pb.PlanResourceChange.Response(
            planned_state=_encode_state(attrs, blocks, st.complete(schema, planned), proposed_enc),
            requires_replace=[_to_attribute_path([k]) for k in replace],
            legacy_type_system=_legacy(klass), diagnostics=diags.to_pb())

    @_log_errors
    def ReadResource(self, request, context):
        diags = Diagnostics()
        klass, schema, attrs, blocks = self._parts(request.type_name)
        current_enc, current = _decode_state(diags, attrs, blocks, request.current_state)
        if diags.has_errors() or current is None:
            return pb.ReadResource.Response(diagnostics=diags.to_pb())
        inst = self.app.new_resource(klass)
        try:
            fresh = inst.read(ReadContext(diags, request.type_name), deepcopy(current))
        except Exception as exc:  # the API refused: keep the state, report why
            diags.add_error(f"reading {request.type_name}: {describe(exc)}")
            fresh = current
        fresh = st.complete(schema, st.settle(schema, current, fresh))
        return pb.ReadResource.Response(
            new_state=_encode_state(attrs, blocks, fresh, current_enc),
            diagnostics=diags.to_pb())

    @_log_errors
    def ApplyResourceChange(self, request, context):
        diags = Diagnostics()
        type_name = request.type_name
        klass, schema, attrs, blocks = self._parts(type_name)
        _, prior = _decode_state(diags, attrs, blocks, request.prior_state)
        planned_enc, planned = _decode_state(diags, attrs, blocks, request.planned_state)
        if diags.has_errors():
            return pb.ApplyResourceChange.Response(diagnostics=diags.to_pb())
        inst = self.app.new_resource(klass)
        _, inst.config = _decode_state(diags, attrs, blocks, request.config)
        try:
            if prior is None:
                new = inst.create(CreateContext(diags, type_name), deepcopy(planned))
            elif planned is None:
                new = inst.delete(DeleteContext(diags, type_name), deepcopy(prior))
            else:
                new = inst.update(UpdateContext(diags, type_name), deepcopy(prior),
                                  deepcopy(planned))
        except Exception as exc:
            diags.add_error(f"{type_name}: {describe(exc)}")
            # On failure Terraform keeps what we return: the old object, or
            # nothing for a create that did not happen. A create whose API
            # call succeeded before a later step failed returns the object, as
            # the real provider does after d.SetId: Terraform keeps it, tainted.
            if prior is not None:
                # Unchanged in state, as SDKv2 keeps it after a failed update
                # (not reconciled with the plan, which did not happen).
                return pb.ApplyResourceChange.Response(
                    new_state=request.prior_state,
                    legacy_type_system=_legacy(klass), diagnostics=diags.to_pb())
            new = _partial(inst, ReadContext(diags, type_name))
        if new is not None and planned is not None:
            new = st.settle(schema, planned, new)
        return pb.ApplyResourceChange.Response(
            new_state=_encode_state(attrs, blocks, st.complete(schema, new), planned_enc),
            legacy_type_system=_legacy(klass), diagnostics=diags.to_pb())


    @_log_errors
    def UpgradeResourceState(self, request, context):
        # States written by another provider build may lack or carry extra
        # attributes; the wire format wants exactly the schema's.
        diags = Diagnostics()
        klass, schema, attrs, blocks = self._parts(request.type_name)
        if not request.raw_state.json:
            diags.add_error("only JSON states can be upgraded")
            return pb.UpgradeResourceState.Response(diagnostics=diags.to_pb())
        state = json.loads(request.raw_state.json)
        if request.version < (schema.version or 0):
            state = self.app.new_resource(klass).upgrade(
                UpgradeContext(diags, request.type_name), request.version, state)
        return pb.UpgradeResourceState.Response(
            upgraded_state=_encode_state(attrs, blocks, st.complete(schema, state), None),
            diagnostics=diags.to_pb())

    @_log_errors
    def ImportResourceState(self, request, context):
        diags = Diagnostics()
        klass, schema, attrs, blocks = self._parts(request.type_name)
        inst = self.app.new_resource(klass)
        try:
            found = inst.import_(ImportContext(diags, request.type_name), request.id)
        except Exception as exc:
            diags.add_error(f"importing {request.type_name} {request.id}: {describe(exc)}")
            found = None
        if found is None and not diags.has_errors():
            diags.add_error(f"{request.type_name} {request.id} does not exist")
        imported = [] if found is None else [pb.ImportResourceState.ImportedResource(
            type_name=request.type_name,
            state=_encode_state(attrs, blocks,
                                st.complete(schema, st.blank_zeroes(
                                    schema, found, keep=frozenset(klass.DEFAULTS))), None))]
        return pb.ImportResourceState.Response(imported_resources=imported,
                                               diagnostics=diags.to_pb())


def _legacy(klass) -> bool:
    """SDKv2 plans defaults for arguments that are not computed, and hashes; Terraform
    accepts that only from a provider that says it uses the legacy type system."""
    return bool(klass.LEGACY_TYPE_SYSTEM or klass.DEFAULTS)


def _partial(inst, ctx) -> dict | None:
    """The object a failed create left behind, read back when the API allows."""
    made = getattr(inst, "partial", None)
    if made is None:
        return None
    try:
        return st.strip_unknown(inst.read(ctx, deepcopy(made)))
    except Exception:  # the API is failing: keep what the create call returned
        return st.strip_unknown(made)


def _same(attrs, blocks, name, old, new) -> bool:
    if name in attrs:
        return attrs[name].type.semantically_equal(old, new)
    return blocks[name].semantically_equal(old, new)
