"""The trained classifier: one ``.safetensors`` file of weights and JSON metadata, loaded without pickle.

File format (``format = 'crystalface-model'``, ``format_version = 1``): a safetensors file whose tensors are the
:class:`~aiida_crystalface.ml.convnet.ConvNet` state dict and whose header metadata holds one key, ``crystalface``, a
JSON object with ``format``, ``format_version``, ``classes``, ``settings`` (the FingerprintSettings dict),
``settings_hash``, ``package_version``, ``architecture`` (the ConvNet config, or an Ensemble's: the tensors are then
its members', ``members.0.``, ...), ``weights_dtype`` and free-form
``training`` (data summary, split, seed, hyper-parameters) and ``metrics``. Safetensors stores raw tensors and a JSON
header only, so loading never executes code from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = (
    'AMORPHOUS',
    'OTHER',
    'PER_ATOM_DEFAULT',
    'PRETRAINED_DEFAULT',
    'UNKNOWN',
    'Classifier',
    'ModelFileError',
    'SettingsMismatchError',
    'bundled_model_names',
)

FORMAT = 'crystalface-model'
FORMAT_VERSION = 1
METADATA_KEY = 'crystalface'
#: The default model: the 59 bulk prototypes (docs/bulk.md, "The default"). On the paper's four cubic classes it is
#: right as often as the four-class model on a fresh test draw (the disorder rescue), and it answers for 55 more.
PRETRAINED_DEFAULT = 'bulk-59'
#: The default model of the per-atom answers (:meth:`Classifier.classify_atoms`, ``classify --per-atom``,
#: ``ClassifyAtomsWorkChain``): the four-class open-set model, whose windows, strides and figures docs/local.md
#: measured; the bulk model per atom is not measured yet.
PER_ATOM_DEFAULT = 'open-4class'
_MAX_HEADER = 100 * 1024 * 1024
#: The extra output of an open-set model (:mod:`.openset`): "a crystal of none of the classes".
OTHER = 'other'
#: The answer for a crystal of none of the model's classes.
UNKNOWN = 'unknown'
#: The lattices on which the disorder rescue (:meth:`Classifier.decide`) may name a class: cubic, one site per point.
RESCUE_LATTICES = ('cP', 'cI', 'cF')
#: The answer for a structure with no long-range order (no lattice found: :mod:`aiida_crystalface.core.orientation`).
AMORPHOUS = 'amorphous'


class ModelFileError(ValueError):
    """A file that is not a crystalface model (or a damaged one)."""


class SettingsMismatchError(ValueError):
    """Images computed with fingerprint settings other than the model's."""


def _read_header(path: Path) -> dict:
    """Parse the safetensors JSON header ourselves, so that a foreign file fails with a clear message."""
    size = path.stat().st_size
    with path.open('rb') as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ModelFileError(f'{path}: not a crystalface model (file too short to be a safetensors file)')
        length = int.from_bytes(prefix, 'little')
        if length <= 1 or length > min(size - 8, _MAX_HEADER):
            raise ModelFileError(f'{path}: not a crystalface model (not a safetensors file)')
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f'{path}: not a crystalface model (not a safetensors file)') from None
    if not isinstance(header, dict):
        raise ModelFileError(f'{path}: not a crystalface model (not a safetensors file)')
    return header


def _read_metadata(path: Path) -> dict:
    header = _read_header(path)
    payload = (header.get('__metadata__') or {}).get(METADATA_KEY)
    if payload is None:
        raise ModelFileError(f'{path}: a safetensors file, but not a crystalface model (no {METADATA_KEY!r} metadata)')
    try:
        metadata = json.loads(payload)
    except json.JSONDecodeError as exception:
        raise ModelFileError(f'{path}: damaged crystalface metadata ({exception})') from None
    if not isinstance(metadata, dict) or metadata.get('format') != FORMAT:
        raise ModelFileError(f'{path}: not a crystalface model (format marker missing)')
    if int(metadata.get('format_version', 0)) > FORMAT_VERSION:
        raise ModelFileError(f'{path}: model format version {metadata["format_version"]} is newer than this package')
    for key in ('classes', 'architecture', 'settings', 'settings_hash'):
        if key not in metadata:
            raise ModelFileError(f'{path}: damaged crystalface metadata (no {key!r})')
    return metadata


#: What the open-set threshold is compared with: ``'softmax'``, the calibrated ``p(other)`` (the default, and the
#: reading of records that do not say); ``'pairwise'``, ``p(other) / (p(other) + p(best))`` with ``best`` the class
#: that would be the answer: ``other`` against that class alone, whatever the rest of the probability is spread over.
#: It is never below the softmax score; the threshold is fitted for the score the record names
#: (:func:`aiida_crystalface.ml.openset.calibrate`).
SCORES = ('softmax', 'pairwise')


def other_score(p_other: Any, p_best: Any, score: str = 'softmax') -> Any:
    """What the threshold is compared with (:data:`SCORES`), from the calibrated ``p(other)`` and the probability of
    the class that would be the answer."""
    if score == 'softmax':
        return p_other
    if score == 'pairwise':
        return p_other / np.maximum(p_other + p_best, 1e-300)
    raise ValueError(f'score must be one of {SCORES}, not {score!r}')


class Classifier:
    """A trained ConvNet with its class names and the fingerprint settings it was trained on.

    :param net: the :class:`~aiida_crystalface.ml.convnet.ConvNet`.
    :param classes: class names, in the order of the network's outputs.
    :param settings: the FingerprintSettings (object or dict) of the training images.
    :param settings_hash: their hash; taken from ``settings`` when it has one.
    :param metadata: further metadata (``training``, ``metrics``, ...), stored with the model.
    """

    def __init__(
        self,
        net: Any,
        classes: list[str],
        settings: Any = None,
        settings_hash: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        import torch

        open_set = dict((metadata or {}).get('open_set') or {})
        outputs = len(classes) + (1 if open_set else 0)
        if outputs != net.config['n_classes']:
            raise ValueError(
                f'{len(classes)} class names{" + other" if open_set else ""} for a network with '
                f'{net.config["n_classes"]} outputs'
            )
        if {UNKNOWN, AMORPHOUS, OTHER} & {str(c) for c in classes}:
            raise ValueError(f'{UNKNOWN!r}, {AMORPHOUS!r} and {OTHER!r} are answers, not class names: {classes}')
        self.net = net.eval().to(memory_format=torch.channels_last)
        self._int8 = None  # the network quantize() makes (its parameters are saved, the network is not)
        self.classes = [str(c) for c in classes]
        self.open_set = open_set
        if settings is not None and hasattr(settings, 'to_dict'):
            settings_hash = settings_hash or settings.hash
            settings = settings.to_dict()
        self.settings: dict = dict(settings or {})
        self.settings_hash: str = str(settings_hash or self.settings.get('hash', '') or '')
        wanted = int(self.settings.get('channels', 1))
        if self.settings and wanted != int(net.config.get('in_channels', 1)):
            raise ValueError(
                f'the fingerprint settings make {wanted}-channel images, the network reads '
                f'{net.config.get("in_channels", 1)}-channel ones'
            )
        extra = dict(metadata or {})
        extra.pop('format', None)
        self._extra = extra

    def __repr__(self) -> str:
        return f'<Classifier classes={self.classes} settings_hash={self.settings_hash!r}>'

    @property
    def image_size(self) -> int:
        return self.net.config['image_size']

    @property
    def prototypes(self) -> dict[str, dict]:
        """For each class: ``{'aflow', 'space_group', 'strukturbericht'}`` (stored in the model file's metadata).

        Models saved before this record existed get it from :data:`aiida_crystalface.core.openset.CLASS_PROTOTYPES`
        for the classes it knows; other classes map to ``None`` values.
        """
        stored = self._extra.get('prototypes') or {}
        from aiida_crystalface.core.openset import CLASS_PROTOTYPES

        empty = {'aflow': None, 'space_group': None, 'strukturbericht': None}
        return {name: dict(stored.get(name) or CLASS_PROTOTYPES.get(name) or empty) for name in self.classes}

    @property
    def metadata(self) -> dict:
        """All metadata, as stored in the model file."""
        from aiida_crystalface import __version__

        metadata = {'package_version': __version__, **self._extra}
        metadata['prototypes'] = self.prototypes
        if self.open_set:
            metadata['open_set'] = self.open_set
        metadata.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            classes=self.classes,
            settings=self.settings,
            settings_hash=self.settings_hash,
            architecture=self.net.config,
        )
        return metadata

    # -- prediction ------------------------------------------------------------------------------------------------

    @property
    def channels(self) -> int:
        """Channels of the images the network reads: 1 (the paper's fingerprint) or 3 (``channels=3`` settings)."""
        return int(self.net.config.get('in_channels', 1))

    def _as_batch(self, images: Any) -> np.ndarray:
        """Images as (N, H, W) float32 for a one-channel model, (N, C, H, W) for a C-channel one."""
        array = np.asarray(images, dtype=np.float32)
        size, channels = self.image_size, self.channels
        if channels == 1:
            if array.ndim == 2:
                array = array[None]
            if array.ndim == 4 and array.shape[1] == 1:
                array = array[:, 0]
            if array.ndim != 3 or array.shape[1:] != (size, size):
                raise ValueError(
                    f'images must have shape (N, {size}, {size}) or ({size}, {size}), not {np.shape(images)}'
                )
        else:
            if array.ndim == 3:
                array = array[None]
            if array.ndim != 4 or array.shape[1:] != (channels, size, size):
                raise ValueError(
                    f'images must have shape (N, {channels}, {size}, {size}) or ({channels}, {size}, {size}) for '
                    f'this {channels}-channel model, not {np.shape(images)}'
                )
        if not np.isfinite(array).all():
            raise ValueError('images contain NaN or infinite values')
        return array

    def check_settings(self, settings_hash: str | None) -> None:
        """Raise :class:`SettingsMismatchError` when ``settings_hash`` is given and differs from the model's."""
        if settings_hash is not None and str(settings_hash) != self.settings_hash:
            raise SettingsMismatchError(
                f'images were computed with fingerprint settings {settings_hash!r}, but the model was trained on '
                f"{self.settings_hash!r}: recompute the fingerprints with the model's settings (Classifier.settings)"
            )

    def logits(
        self,
        images: Any,
        *,
        batch_size: int = 512,
        settings_hash: str | None = None,
        precision: str = 'float32',
        pad: int = 1,
    ) -> np.ndarray:
        """Raw network outputs (N, n_outputs), float32: one per class, and ``other`` last for an open-set model.

        :param precision: ``'float32'`` (default), ``'bfloat16'`` (autocast: about twice as fast on CPUs with
            native bf16, with logits good to about 1 %) or ``'int8'`` (the network :meth:`quantize` made: about five
            times as fast on a CPU with VNNI; ``benchmarks/quantized.py`` measures how often the answer changes).
        :param pad: the last batch is padded with blank images to a multiple of ``pad`` (their outputs dropped), so
            that calls with varying numbers of images meet few batch shapes: oneDNN prepares its convolutions once
            per shape, 10-35 ms each on a 2-core CPU (:meth:`classify_atoms` uses 4).
        """
        import torch

        if precision not in ('float32', 'bfloat16', 'int8'):
            raise ValueError(f'precision must be float32, bfloat16 or int8, not {precision!r}')
        if precision == 'int8' and self._int8 is None:
            if not self._extra.get('int8'):
                raise ValueError(
                    "precision 'int8' needs the quantized network: call quantize(images) first, with fingerprints "
                    'like those to classify (this model file stores no int8 quantization parameters)'
                )
            self.quantize()
        self.check_settings(settings_hash)
        array = self._as_batch(images)
        self.net.eval()
        out = np.empty((len(array), self.net.config['n_classes']), dtype=np.float32)
        device = next(self.net.parameters()).device.type
        net = self._int8 if precision == 'int8' else self.net
        autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == 'bfloat16')
        with torch.inference_mode(), autocast:
            for start in range(0, len(array), batch_size):
                chunk = array[start : start + batch_size]
                size = len(chunk)
                if size % pad:
                    chunk = np.concatenate([chunk, np.zeros((pad - size % pad, *chunk.shape[1:]), np.float32)])
                batch = torch.from_numpy(chunk)
                batch = batch.unsqueeze(1) if batch.ndim == 3 else batch
                if net is self.net:
                    # channels_last lets oneDNN pick its fast NHWC convolutions (about 1.3x on this CPU).
                    batch = batch.contiguous(memory_format=torch.channels_last)
                out[start : start + size] = net(batch.to(device)).float().cpu().numpy()[:size]
        return out

    def quantize(self, images: Any = None, *, batch_size: int = 128, observed_on: str | None = None) -> Classifier:
        """Make the int8 network that ``precision='int8'`` uses; returns this classifier.

        Post-training static quantization (:mod:`torch.ao.quantization`, FX graph mode, the x86 backend's default
        config). Weights are quantized per channel. Activation ranges are observed on ``images``: fingerprints of
        the kind the model will classify (a few hundred are enough), for example pristine and damaged members of
        the training classes. Their result, each activation's scale and zero point, is kept in :attr:`metadata`
        (``int8``) and written by :meth:`save`, so a model saved after ``quantize(images)`` quantizes again without
        images: ``quantize()`` (and the first ``precision='int8'`` call) builds the same int8 network from the stored
        parameters. The float network and every other precision are unchanged. The decision rule was fitted on
        float32 outputs: ``benchmarks/quantized.py`` measures how often the int8 answer differs from the float32 one.
        CPU only.

        :param observed_on: what ``images`` are, in words, stored with the parameters (``int8['observed_on']``).
        :raises ValueError: no images and no stored parameters; stored parameters that do not name this network's
            activations (written by another torch version's tracer, or for another network).
        """
        import copy
        import warnings

        import torch
        from torch.ao.quantization import FixedQParamsObserver, get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        if next(self.net.parameters()).device.type != 'cpu':
            raise ValueError('int8 inference runs on the CPU; move the network there first')
        members = list(self.net.members) if hasattr(self.net, 'members') else [self.net]
        stored = None
        if images is None:
            record = self._extra.get('int8') or {}
            stored = record.get('activation_qparams')
            if not stored:
                raise ValueError('quantize() needs fingerprints to observe the activation ranges on: this model stores '
                                 'no int8 quantization parameters; call quantize(images)')  # fmt: skip
            if len(stored) != len(members):
                raise ValueError(f'the stored int8 parameters are for {len(stored)} networks, this model has '
                                 f'{len(members)}')  # fmt: skip
            example = torch.zeros((1, self.channels, self.image_size, self.image_size))
            batches = []
        else:
            array = self._as_batch(images)
            if not len(array):
                raise ValueError('quantize needs at least one fingerprint to observe the activation ranges')
            batches = [torch.from_numpy(array[i : i + batch_size]) for i in range(0, len(array), batch_size)]
            batches = [b.unsqueeze(1) if b.ndim == 3 else b for b in batches]
            example = batches[0][:1].float()
        mapping = get_default_qconfig_mapping('x86')
        converted, qparams = [], []
        with warnings.catch_warnings():
            # torch.ao.quantization warns that it will move to torchao; its API is what this torch has.
            warnings.simplefilter('ignore')
            for index, member in enumerate(members):
                float_member = copy.deepcopy(member).eval().to(memory_format=torch.contiguous_format)
                prepared = prepare_fx(float_member, mapping, example_inputs=(example,))
                observers = {n: m for n, m in prepared.named_modules() if 'activation_post_process' in n}
                if stored is None:
                    with torch.inference_mode():
                        for batch in batches:
                            prepared(batch.float())
                    found = {}
                    for name, observer in observers.items():
                        scale, zero_point = observer.calculate_qparams()
                        found[name] = [float(scale), int(zero_point)]
                    qparams.append(found)
                else:
                    if set(stored[index]) != set(observers):
                        raise ValueError(
                            f'the stored int8 parameters of network {index} name the activations '
                            f'{sorted(stored[index])}, this torch traces {sorted(observers)}: call quantize(images)'
                        )
                    for name, observer in observers.items():
                        scale, zero_point = stored[index][name]
                        fixed = FixedQParamsObserver(
                            scale=float(scale),
                            zero_point=int(zero_point),
                            dtype=observer.dtype,
                            qscheme=observer.qscheme,
                            quant_min=observer.quant_min,
                            quant_max=observer.quant_max,
                        )
                        setattr(prepared, name, fixed)
                int8 = convert_fx(prepared).eval()
                int8.config = dict(member.config)
                converted.append(int8)
        if hasattr(self.net, 'members'):
            from aiida_crystalface.ml.convnet import Ensemble

            self._int8 = Ensemble(converted, getattr(self.net, 'combine', 'geometric')).eval()
        else:
            self._int8 = converted[0]
        if stored is None:
            self._extra['int8'] = {
                'activation_qparams': qparams,
                'observed_images': len(array),
                'qconfig': "torch.ao.quantization.get_default_qconfig_mapping('x86'), FX graph mode",
                'torch': torch.__version__.split('+')[0],
            }
            if observed_on:
                self._extra['int8']['observed_on'] = str(observed_on)
        return self

    def output_probabilities(self, images: Any, **kwargs: Any) -> np.ndarray:
        """Calibrated probabilities of every output (N, n_outputs): the classes, then ``other`` (open-set models).

        The softmax of the logits divided by the temperature fitted at calibration (1 for a model without one).
        """
        logits = self.logits(images, **kwargs).astype(np.float64) / float(self.open_set.get('temperature', 1.0))
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(
        self, images: Any, *, batch_size: int = 512, settings_hash: str | None = None, precision: str = 'float32'
    ) -> np.ndarray:
        """Class probabilities (N, n_classes), float64, rows summing to 1.

        For an open-set model these are the probabilities of the classes given that the structure is a member of
        one of them (``other`` divided out); :meth:`classify` and :meth:`decide` give the full answer.

        :param images: (N, H, W) or a single (H, W) fingerprint, values in [0, 1].
        :param batch_size: images per forward pass.
        :param settings_hash: the settings hash of the images; when given it must equal :attr:`settings_hash`.
        :param precision: ``'float32'``, ``'bfloat16'`` or ``'int8'`` (see :meth:`logits`).
        """
        probabilities = self.output_probabilities(
            images, batch_size=batch_size, settings_hash=settings_hash, precision=precision
        )[:, : len(self.classes)]
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict_labels(self, images: Any, **kwargs: Any) -> list[str]:
        """The most probable class name of each image (never ``unknown``: see :meth:`decide`)."""
        return [self.classes[i] for i in self.predict(images, **kwargs).argmax(axis=1)]

    def decide(self, images: Any, lattices: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        """The answer for each fingerprint: ``{'label', 'probabilities', 'uncertainty'}``.

        ``label`` is a class name, ``'unknown'`` or ``'amorphous'``:

        - where the orientation step found no long-range order (``lattices[i]`` False, or its record has
          ``lattice_found`` and ``lattice_periodic`` False: the coherent reflections do not span three dimensions),
          ``'amorphous'``; the network is not asked;
        - where it found order but no lattice the classes could have (``lattice_found`` False, ``lattice_periodic``
          True: the only lattice is more than 2.5 nearest-neighbour distances long), ``'unknown'``; not asked either;
        - otherwise the network answers: ``'unknown'`` when an open-set model's calibrated ``p(other)`` (with
          ``other_score = 'pairwise'`` in its record: ``p(other) / (p(other) + p(answer))``) is above its stored
          threshold, else the most probable class -- unless the model's open-set record has ``lattice_rule``
          and the lattice found cannot be that class's (:func:`aiida_crystalface.core.openset.lattice_admits`: an
          fcc answer needs a face-centred cubic lattice with one site per point, and so on; the lattice of a
          damaged crystal is exact), which makes it ``'unknown'`` with uncertainty 0. With ``lattice_rule =
          'restrict'`` the answer is the most probable class the lattice admits, and ``'unknown'`` where its probability
          is below the record's calibrated ``restrict_ratio`` times that of the most probable class (the network
          prefers by that much a class the lattice rules out);
        - a model whose record has ``disorder_rescue`` turns such an ``'unknown'`` into the one class a one-element
          crystal on its lattice can be, where the scattering off the lattice is that of random damage
          (:meth:`_disorder_rescue`);
        - a model whose record has ``order_rescue`` names the ordered compound of a cubic lattice that the elements'
          order fixes (:meth:`_order_rescue`);
        - a model whose record has ``order_veto`` never answers a class of one element for a crystal of several
          elements that sit in an order: that answer becomes ``'unknown'`` (:meth:`_order_veto`; applied last).

        ``probabilities``: the class probabilities of :meth:`predict` (uniform where the network was not asked: the
        classes say nothing about such a structure).
        ``uncertainty``: one minus the calibrated probability of the answer, i.e. the probability, as calibrated on
        held-out data, that the answer is wrong; 0 for the orientation step's own answers. A model without an
        open-set record never says ``unknown`` from the network; its uncertainty is one minus its largest class
        probability.

        :param lattices: one entry per image: a bool (lattice found) or the lattice record of the image
            (:meth:`aiida_crystalface.core.orientation.Lattice.to_dict`); None: all found.
        """
        array = self._as_batch(images)
        entries = [True] * len(array) if lattices is None else list(lattices)
        if len(entries) != len(array):
            raise ValueError(f'lattices must have one entry per image ({len(array)}), not {len(entries)}')
        answers: list[dict[str, Any]] = []
        for entry in entries:
            if isinstance(entry, dict):
                found, periodic = bool(entry.get('lattice_found', True)), bool(entry.get('lattice_periodic', False))
            else:
                found, periodic = bool(entry), False
            label = None if found else UNKNOWN if periodic else AMORPHOUS
            uniform = dict.fromkeys(self.classes, 1.0 / len(self.classes))
            answers.append({'label': label, 'probabilities': uniform, 'uncertainty': 0.0})
        index = np.array([i for i, answer in enumerate(answers) if answer['label'] is None], dtype=int)
        if len(index) == 0:
            return answers
        outputs = self.output_probabilities(array[index], **kwargs)
        n = len(self.classes)
        members = outputs[:, :n] / outputs[:, :n].sum(axis=1, keepdims=True)
        threshold = float(self.open_set.get('threshold', 1.0))
        admits = self._lattice_rule()
        rescue = self._disorder_rescue(admits)
        order = self._order_rescue()
        veto = self._order_veto()
        compounds = {name for name, record in self.prototypes.items() if (record.get('species_count') or 1) > 1}
        restrict = self.open_set.get('lattice_rule') == 'restrict'
        ratio = float(self.open_set.get('restrict_ratio', 0.0))
        for row, i in enumerate(index):
            top = best = int(outputs[row, :n].argmax())
            allowed = None
            if restrict and admits is not None:
                # The lattice is exact: the answer is the most probable class among those it admits.
                allowed = np.array([admits(entries[i], c) is not False for c in range(n)])
                best = int(np.where(allowed, outputs[row, :n], -1.0).argmax()) if allowed.any() else best
            if self.open_set and self._other_score(outputs[row, n], outputs[row, best]) > threshold:
                label, confidence = UNKNOWN, float(outputs[row, n])
            elif allowed is not None and allowed.any() and outputs[row, best] < ratio * outputs[row, top]:
                # The network prefers, by more than the calibrated ratio, a class the lattice rules out: an outsider
                # whose lattice one of the classes shares. Confidence: p(other) and the ruled-out classes together.
                label, confidence = UNKNOWN, float(outputs[row, n] + outputs[row, :n][~allowed].sum())
            elif admits is not None and admits(entries[i], best) is False:
                label, confidence = UNKNOWN, 1.0  # the lattice's answer, not the network's
            else:
                label, confidence = self.classes[best], float(outputs[row, best])
            rescued = None
            if rescue is not None and (label == UNKNOWN or label in compounds):
                rescued = rescue(entries[i], label != UNKNOWN)
                if rescued is not None:
                    label, confidence = self.classes[rescued], 1.0 - float(self.open_set['disorder_rescue']['error'])
            if order is not None and rescued is None:
                ordered = order(entries[i], label)
                if ordered is not None and self.classes[ordered] != label:
                    label, confidence = self.classes[ordered], 1.0 - float(self.open_set['order_rescue']['error'])
            if veto is not None and veto(entries[i], label):
                label, confidence = UNKNOWN, 1.0 - float(self.open_set['order_veto']['error'])
            answers[i] = {
                'label': label,
                'probabilities': {c: float(p) for c, p in zip(self.classes, members[row], strict=True)},
                'uncertainty': float(min(1.0, max(0.0, 1.0 - confidence))),
            }
        return answers

    def _other_score(self, p_other: float, p_best: float) -> float:
        """What the open-set threshold is compared with (:func:`other_score` with the record's ``other_score``,
        ``'softmax'`` where it has none)."""
        score = self.open_set.get('other_score', 'softmax')
        if score not in SCORES:
            raise ValueError(f'the open-set record has an unknown other_score: {score!r}')
        return float(other_score(p_other, p_best, score))

    def _order_rescue(self):
        """``rescue(entry, label) -> class index | None`` for a model whose open-set record has ``order_rescue``;
        else None.

        The order rescue names an ordered compound of a cubic lattice from the elements' order itself
        (:mod:`aiida_crystalface.core.ordering`): where the species-blind lattice is cubic with one site per point
        (:data:`RESCUE_LATTICES`), the scattering of the atoms off it is that of random damage (the
        ``superlattice_peak`` under :func:`~aiida_crystalface.core.orientation.disorder_limit` at the record's
        ``alpha``: no vacancy order, no other structure), and the elements' concentration waves (the record's
        ``species_order``) match exactly one class's of the record's ``profiles`` (CsCl, rocksalt, L1_2, D0_3,
        Heusler: the lattice and the sublattices each element holds fix the structure, with no parameter left), the
        answer is that class: where the network said ``unknown`` (``policy = 'unknown'``), or whatever it said
        (``policy = 'any'``). Its uncertainty is the record's ``error``, measured on the calibration part
        (:func:`aiida_crystalface.ml.bulk.add_order_rescue`)."""
        record = self.open_set.get('order_rescue')
        if not record:
            return None
        from aiida_crystalface.core.ordering import matching_classes
        from aiida_crystalface.core.orientation import disorder_limit

        alpha = float(record['alpha'])
        references = {name: profile for name, profile in record['profiles'].items() if name in self.classes}
        any_answer = record.get('policy') == 'any'

        def rescue(entry: Any, label: str) -> int | None:
            if not any_answer and label != UNKNOWN:
                return None
            if not isinstance(entry, dict) or not entry.get('species_order') or 'superlattice_peak' not in entry:
                return None
            if entry.get('lattice_bravais') not in RESCUE_LATTICES or entry.get('sites_per_lattice_point') != 1:
                return None
            limit = disorder_limit(int(entry.get('lattice_points', 0)), int(entry.get('diffuse_reflections', 0)), alpha)
            if limit is None or float(entry['superlattice_peak']) > limit:
                return None
            matches = matching_classes(entry['species_order'], references)
            return self.classes.index(matches[0]) if len(matches) == 1 else None

        return rescue

    def _order_veto(self):
        """``veto(entry, label) -> bool`` for a model whose open-set record has ``order_veto``; else None.

        A class of one element (``prototypes[name]['species_count'] == 1``: fcc, hcp, indium, graphite, ...) is the
        answer for a crystal of several elements only where they are spread over its sites at random (a random alloy:
        the paper's substitution keeps the class). Where they sit in an order, the crystal is a compound, and no
        one-element class is its answer, however alike the pattern (zincblende is no diamond, an ordered A2B on an
        indium-like lattice no indium): the veto turns that answer into ``'unknown'``. Ordered means the lattice
        record's ``species_order_z`` (:func:`aiida_crystalface.core.ordering.arrangement_z`: the element pairs of the
        neighbour shells against random relabellings of the same sites) over the record's ``z``. The answer's
        uncertainty is the record's ``error``: the share of the calibration answers it changed whose truth was a class
        (:func:`aiida_crystalface.ml.bulk.add_order_veto`)."""
        record = self.open_set.get('order_veto')
        if not record:
            return None
        z = float(record['z'])
        prototypes = self.prototypes
        elemental = {name for name in self.classes if prototypes[name].get('species_count') == 1}

        def veto(entry: Any, label: str) -> bool:
            if label not in elemental or not isinstance(entry, dict) or entry.get('species_order_z') is None:
                return False
            return int(entry.get('species_count') or 1) > 1 and float(entry['species_order_z']) > z

        return veto

    def _disorder_rescue(self, admits):
        """``rescue(entry) -> class index | None`` for a model whose open-set record has ``disorder_rescue``; else
        None.

        The rescue turns the network's ``unknown`` into the one class a crystal of one element can be, where nothing but
        random damage sets it apart from that class: the structure has one element (``entry['species_count']``), its
        lattice is cubic with one site per point (:data:`RESCUE_LATTICES`: then the lattice alone fixes the structure,
        sc, bcc or fcc, with no parameter left; on any other lattice the sites or the axial ratios could be another
        crystal's), the lattice rule admits exactly one one-element class on it, and the scattering off that lattice is
        that of random damage, not of an order (the ``superlattice_peak`` of :mod:`aiida_crystalface.core.orientation`
        is under :func:`~aiida_crystalface.core.orientation.disorder_limit` at the record's ``alpha``, in a cell of
        enough lattice points to tell). A vacancy-ordered superstructure of the same lattice, which the network has to
        part from a randomly vacant crystal on weak reflections alone, puts its off-lattice power into a few strong
        superlattice reflections and stays ``unknown``. With ``alloys`` in the record, a crystal of several elements on
        such a lattice is rescued too, where each element's atoms alone have no superlattice peak either
        (``species_superlattice_peak``): a random alloy keeps its lattice's class, whether the network said ``unknown``
        or an ordered compound's class (the elements of CsCl, D0_3 or L1_2 sit in an order, and their peaks lie far over
        the limit). The answer's uncertainty is the record's ``error``: the share of the rescued calibration items that
        were wrong (:func:`aiida_crystalface.ml.bulk.add_disorder_rescue`)."""
        record = self.open_set.get('disorder_rescue')
        if not record or admits is None:
            return None
        from aiida_crystalface.core.orientation import disorder_limit

        alpha = float(record['alpha'])
        prototypes = self.prototypes
        elemental = [c for c, name in enumerate(self.classes) if prototypes[name].get('species_count') == 1]

        alloys = bool(record.get('alloys'))

        def rescue(entry: Any, compound: bool = False) -> int | None:
            if not isinstance(entry, dict) or 'superlattice_peak' not in entry or not entry.get('species_count'):
                return None
            if entry.get('lattice_bravais') not in RESCUE_LATTICES or entry.get('sites_per_lattice_point') != 1:
                return None
            several = int(entry['species_count']) > 1
            if several and not (alloys and 'species_superlattice_peak' in entry):
                return None
            if compound and not several:
                return None
            limit = disorder_limit(int(entry.get('lattice_points', 0)), int(entry.get('diffuse_reflections', 0)), alpha)
            if limit is None or float(entry['superlattice_peak']) > limit:
                return None
            if several and float(entry['species_superlattice_peak']) > limit:
                return None  # the elements sit in an order: an ordered compound, not a random alloy
            admitted = [c for c in elemental if admits(entry, c) is True]
            return admitted[0] if len(admitted) == 1 else None

        return rescue

    def _lattice_rule(self):
        """``admits(entry, class_index) -> bool | None`` for an open-set model with ``lattice_rule``; else None.

        Rules that are facts of the input rather than fits: the lattice rule
        (:func:`aiida_crystalface.core.openset.lattice_admits`, not applied to the classes in
        ``lattice_rule_exempt``), and the species rule: a class whose prototype has more elements
        (``prototypes[name]['species_count']``, stored by models that have it) than the structure
        (``entry['species_count']``, :class:`aiida_crystalface.core.diffraction.BatchResult`) is not admitted --
        vacancies can make the sites of an elemental bcc crystal look unequally occupied, as CsCl's are, but they
        never make it two elements. And, in a model with ``open_set['composition_tolerance']``, the composition rule:
        a compound class whose stoichiometry (``prototypes[name]['stoichiometry']``) is further than the tolerance
        from the structure's element shares (``entry['species_fractions']``;
        :func:`aiida_crystalface.core.openset.composition_distance`) is not admitted. Exemption from the lattice rule
        is not exemption from these two."""
        if not self.open_set.get('lattice_rule'):
            return None
        from aiida_crystalface.core.openset import composition_distance, lattice_admits

        prototypes = self.prototypes
        labels = [prototypes[name].get('aflow') for name in self.classes]
        expected = [prototypes[name].get('lattice') for name in self.classes]
        exempt = set(self.open_set.get('lattice_rule_exempt') or ())
        labels = [None if name in exempt else label for name, label in zip(self.classes, labels, strict=True)]

        species = [prototypes[name].get('species_count') for name in self.classes]
        shares = [prototypes[name].get('stoichiometry') for name in self.classes]
        tolerance = self.open_set.get('composition_tolerance')

        def admits(entry: Any, best: int) -> bool | None:
            if not isinstance(entry, dict):
                return None
            if species[best] and entry.get('species_count') and int(entry['species_count']) < int(species[best]):
                return False  # a crystal of one element is no binary compound, one of two no ternary one
            if tolerance is not None and shares[best] and entry.get('species_fractions'):
                distance = composition_distance(entry['species_fractions'], shares[best])
                if distance is not None and distance > float(tolerance):
                    return False  # an A2B crystal is no A3B compound, whatever its pattern
            if not labels[best]:
                return None
            return lattice_admits(entry, labels[best], expected[best])

        return admits

    def lattice_consistency(self, lattices: Any) -> np.ndarray:
        """(N, C) bool: whether each lattice record admits each class (True where the rule does not decide)."""
        admits = self._lattice_rule()
        entries = list(lattices)
        if admits is None:
            return np.ones((len(entries), len(self.classes)), dtype=bool)
        return np.array(
            [[admits(entry, c) is not False for c in range(len(self.classes))] for entry in entries], dtype=bool
        ).reshape(len(entries), len(self.classes))

    def classify(
        self, structures: Any, *, progress: bool = False, batch_size: int = 512, precision: str = 'float32'
    ) -> list[dict[str, Any]]:
        """Fingerprint and classify structures: one answer per structure, in input order.

        Each answer is ``{'label', 'probabilities', 'uncertainty'}`` (see :meth:`decide`), or ``{'error': str}``
        for a structure that cannot be read or validated; one bad structure never costs the others their answer.

        :param structures: pymatgen Structures, ASE Atoms, AiiDA StructureData, or paths of structure files (a file
            with several frames gives one answer per frame, in order).
        :param precision: of the network (:meth:`logits`; ``'int8'`` needs :meth:`quantize` first).
        """
        from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
        from aiida_crystalface.core.structures import StructureError, read_structures

        items: list[Any] = []
        answers: list[dict[str, Any] | None] = []
        if isinstance(structures, (str, os.PathLike)) or not isinstance(structures, (list, tuple)):
            structures = list(structures) if _iterable_of_structures(structures) else [structures]
        for structure in structures:
            if isinstance(structure, (str, os.PathLike)):
                try:
                    frames = read_structures(structure)
                except (StructureError, OSError, ValueError) as exception:
                    answers.append({'error': str(exception)})
                    continue
                for frame in frames:
                    items.append(frame)
                    answers.append(None)
            else:
                items.append(structure)
                answers.append(None)
        settings = FingerprintSettings.from_dict(self.settings) if self.settings else FingerprintSettings()
        batch = fingerprint_batch(items, settings, progress=progress)
        lattices = [lattice if lattice is not None else True for lattice in batch.lattices]
        decided = (
            self.decide(batch.images, lattices, batch_size=batch_size, precision=precision) if len(batch.ok) else []
        )
        by_item: dict[int, dict[str, Any]] = {int(k): {'error': str(v)} for k, v in batch.errors.items()}
        by_item.update({int(i): answer for i, answer in zip(batch.ok, decided, strict=True)})
        slots = iter(range(len(items)))
        return [answer if answer is not None else by_item[next(slots)] for answer in answers]

    def classify_atoms(
        self,
        structure: Any,
        *,
        stride: float | None = None,
        seed: int = 0,
        progress: bool = False,
        batch_size: int = 16,
        precision: str = 'float32',
    ) -> dict[str, Any]:
        """Classify every atom of one structure from the windows around it (:mod:`aiida_crystalface.core.local`).

        Windows are centred on atoms ``stride`` nearest-neighbour distances apart (default
        :data:`~aiida_crystalface.core.local.STRIDE`); each gets its local lattice, cluster, fingerprint and answer
        (:meth:`decide`, in batches), and every atom the answer of the window whose crystal it belongs to, or
        ``'unknown'`` (``'amorphous'`` where the nearest window is amorphous) when it belongs to none.

        :param structure: anything :func:`~aiida_crystalface.core.structures.to_atomic_structure` converts, periodic
            or not (a free nanoparticle, a slab, an MD snapshot), or the path of a one-frame structure file.
        :param batch_size: windows per forward pass of the network. 16 is faster per window than larger batches on
            a 2-core CPU (0.9 against 1.3-1.4 ms in float32: the activations stay in cache), and the last batch is
            padded to a multiple of 4 (:meth:`logits`' ``pad``), so that structures with different numbers of
            windows share the batch shapes oneDNN has prepared; from 4 images up the outputs are the same to the
            bit whatever the batch.
        :param precision: of the network (:meth:`logits`): ``'bfloat16'`` is about 1.7 times as fast on a CPU with
            native bf16; ``benchmarks/local.py`` measures what it costs in accuracy. ``'int8'`` needs
            :meth:`quantize` first.
        :returns: ``{'labels': list[str] (one per atom), 'probabilities': ndarray (N, C) over :attr:`classes`,
            'uncertainty': ndarray (N,), 'windows': int, 'settings': dict}``; ``settings`` holds the stride, seed and
            method, to be stored with the result.
        :raises StructureError: naming the structure, when it cannot be read or validated.
        """
        from aiida_crystalface.core import local
        from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_clusters
        from aiida_crystalface.core.structures import StructureError, read_structures, to_atomic_structure

        if isinstance(structure, (str, os.PathLike)):
            frames = read_structures(structure)
            if len(frames) != 1:
                raise StructureError(f'{structure}: {len(frames)} frames; classify_atoms takes one structure')
            structure = frames[0]
        structure = to_atomic_structure(structure).validate()
        stride = float(local.STRIDE if stride is None else stride)
        if not stride > 0:
            raise ValueError(f'stride must be positive, not {stride}')
        settings = FingerprintSettings.from_dict(self.settings) if self.settings else FingerprintSettings()
        hood, found, nn = local.windows(
            structure,
            stride=stride,
            target_atoms=settings.target_atoms,
            seed=seed,
            progress=progress,
            isotropic=settings.orientation == 'standard',
        )
        records = [
            {
                'lattice_found': window.cluster is not None,
                'lattice_periodic': window.lattice.periodic or window.lattice.found,
            }
            for window in found
        ]
        # In chunks of windows, so that the images in memory stay bounded however large the structure.
        answers: list[dict[str, Any]] = []
        for start in range(0, len(found), 1024):
            chunk = found[start : start + 1024]
            images = np.zeros((len(chunk), *settings.image_shape), dtype=np.float32)
            chosen = [i for i, window in enumerate(chunk) if window.cluster is not None]
            if chosen:
                images[chosen] = fingerprint_clusters([chunk[i].cluster for i in chosen], settings)
            answers += self.decide(
                images, records[start : start + len(chunk)], batch_size=batch_size, precision=precision, pad=4
            )
        member, nearest = local.assign(hood, found, answers)
        n = len(structure)
        window_labels = np.array([answer['label'] for answer in answers] + [UNKNOWN, AMORPHOUS], dtype=object)
        window_probabilities = np.array(
            [[answer['probabilities'][c] for c in self.classes] for answer in answers], dtype=np.float64
        ).reshape(len(answers), len(self.classes))
        window_uncertainty = np.array([answer['uncertainty'] for answer in answers], dtype=np.float64)
        orphan = member < 0
        fallback = np.where(window_labels[nearest] == AMORPHOUS, len(answers) + 1, len(answers))
        labels = window_labels[np.where(orphan, fallback, member)]
        probabilities = np.full((n, len(self.classes)), 1.0 / len(self.classes))
        probabilities[~orphan] = window_probabilities[member[~orphan]]
        uncertainty = np.zeros(n)
        uncertainty[~orphan] = window_uncertainty[member[~orphan]]
        return {
            'labels': [str(label) for label in labels],
            'probabilities': probabilities,
            'uncertainty': uncertainty,
            'windows': len(found),
            'settings': {
                'stride': stride,
                'stride_angstrom': round(stride * nn, 6),
                'lattice_atoms': local.LATTICE_ATOMS,
                'match_radius': local.MATCH_RADIUS,
                'match_share': local.MATCH_SHARE,
                'seed': int(seed),
                'precision': precision,
                'method': local.METHOD,
            },
        }

    # -- files -----------------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, weights_dtype: str = 'float32') -> Path:
        """Write the model as ONE safetensors file with the metadata in its header.

        :param weights_dtype: ``'float32'`` or ``'float16'`` (half the size; the stored model is then the rounded one).
        """
        import torch
        from safetensors.torch import save_file

        if weights_dtype not in ('float32', 'float16'):
            raise ValueError(f'weights_dtype must be float32 or float16, not {weights_dtype!r}')
        dtype = getattr(torch, weights_dtype)
        tensors = {k: v.detach().to(dtype).contiguous() for k, v in self.net.state_dict().items()}
        metadata = {**self.metadata, 'weights_dtype': weights_dtype}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + '.partial')
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # safetensors writes 0600; a model file is meant to be shared
        os.replace(tmp, path)
        if weights_dtype != 'float32':
            # Keep this object identical to what load() will give back.
            self.net.load_state_dict({k: v.float() for k, v in tensors.items()})
        self._extra['weights_dtype'] = weights_dtype
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Classifier:
        """Load a model file written by :meth:`save`; refuse anything else with :class:`ModelFileError`."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from aiida_crystalface.ml.convnet import network_from_config

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f'{path}: no such model file')
        metadata = _read_metadata(path)
        try:
            net = network_from_config(metadata['architecture'])
        except (KeyError, TypeError, ValueError) as exception:
            raise ModelFileError(f'{path}: damaged architecture metadata ({exception})') from None
        try:
            tensors = load_file(str(path))
            net.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
        except (SafetensorError, RuntimeError, OSError) as exception:
            raise ModelFileError(f'{path}: weights do not match the architecture ({exception})') from None
        extra = {k: v for k, v in metadata.items() if k not in ('classes', 'settings', 'settings_hash', 'architecture')}
        try:
            return cls(net, metadata['classes'], metadata['settings'], metadata['settings_hash'], extra)
        except ValueError as exception:
            raise ModelFileError(f'{path}: damaged crystalface metadata ({exception})') from None

    @classmethod
    def pretrained(cls, name: str = PRETRAINED_DEFAULT) -> Classifier:
        """Load a model bundled with the package (``aiida_crystalface/ml/pretrained/<name>/model.safetensors``)."""
        from importlib.resources import as_file, files

        resource = files('aiida_crystalface.ml').joinpath('pretrained', name, 'model.safetensors')
        if not resource.is_file():
            raise ModelFileError(f'no bundled model named {name!r}; available: {bundled_model_names()}')
        with as_file(resource) as path:
            return cls.load(path)


def bundled_model_names() -> list[str]:
    """The names of the models bundled with the package (``aiida_crystalface/ml/pretrained/<name>/``)."""
    from importlib.resources import files

    folder = files('aiida_crystalface.ml').joinpath('pretrained')
    return sorted(p.name for p in folder.iterdir() if p.joinpath('model.safetensors').is_file())


def _iterable_of_structures(obj: Any) -> bool:
    """True for an iterable of structures (not a single structure: pymatgen and ASE structures iterate over sites)."""
    module = type(obj).__module__
    if module.startswith(('pymatgen', 'ase', 'aiida')) or (hasattr(obj, 'cell') and hasattr(obj, 'positions')):
        return False
    try:
        iter(obj)
    except TypeError:
        return False
    return True
