"""The network of Table 1: layer shapes and parameter count."""

import pytest
import torch

from aiida_crystalface.ml.convnet import ConvNet


def table_1_parameter_count(n_classes: int) -> int:
    """Counted by hand from Table 1: 7x7 kernels, filters 32-16-12-12-8-8, dense 128, 64 -> 16 pixels per side."""
    channels = [1, 32, 16, 12, 12, 8, 8]
    convs = sum(channels[i] * channels[i + 1] * 49 + channels[i + 1] for i in range(6))
    dense = 8 * 16 * 16 * 128 + 128
    return convs + dense + 128 * n_classes + n_classes


@pytest.mark.parametrize('n_classes', [4, 7])
def test_parameter_count_matches_table_1(n_classes):
    net = ConvNet(n_classes)
    assert sum(p.numel() for p in net.parameters()) == table_1_parameter_count(n_classes)


def test_layer_shapes_match_table_1():
    net = ConvNet(4).eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for m in net.convs]
    hooks.append(net.hidden.register_forward_hook(lambda m, i, o: shapes.append(('hidden', *i[0].shape, *o.shape))))
    out = net(torch.rand(3, 1, 64, 64))
    for hook in hooks:
        hook.remove()
    expected = [(3, 32, 64, 64), (3, 16, 64, 64), (3, 12, 32, 32), (3, 12, 32, 32), (3, 8, 16, 16), (3, 8, 16, 16)]
    assert shapes[:6] == expected
    assert shapes[6] == ('hidden', 3, 8 * 16 * 16, 3, 128)
    assert out.shape == (3, 4)
    assert all(conv.kernel_size == (7, 7) for conv in net.convs)
    assert net.dropout.p == 0.25


def test_config_round_trip_and_bad_arguments():
    net = ConvNet(5, 32)
    assert ConvNet.from_config(net.config).config == net.config
    with pytest.raises(ValueError, match='multiple of 4'):
        ConvNet(4, 30)
    with pytest.raises(ValueError, match='n_classes'):
        ConvNet(1)


def test_he_initialisation_keeps_the_signal_through_the_relu_stack():
    import torch

    from aiida_crystalface.ml.convnet import ConvNet, he_initialise

    torch.manual_seed(0)
    default = ConvNet(60, in_channels=3)
    he = he_initialise(ConvNet(60, in_channels=3), seed=0)
    for conv in he.convs:
        fan_in = conv.weight[0].numel()
        assert abs(float(conv.weight.std()) - (2 / fan_in) ** 0.5) < 0.1 * (2 / fan_in) ** 0.5
        assert not conv.bias.any()
    again = he_initialise(ConvNet(60, in_channels=3), seed=0)
    assert all(torch.equal(a, b) for a, b in zip(he.state_dict().values(), again.state_dict().values(), strict=True))
    x = torch.rand(8, 3, 64, 64)
    with torch.no_grad():
        # the default leaves the last convolution's output an order of magnitude below the input; He keeps its scale
        assert he.features(x).std() > 5 * default.features(x).std()


def test_ensemble_is_the_mean_log_probability_and_round_trips_through_a_model_file(tmp_path):
    import numpy as np

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml import Classifier
    from aiida_crystalface.ml.convnet import Ensemble, network_from_config

    torch.manual_seed(0)
    a, b = ConvNet(3, 32, in_channels=3).eval(), ConvNet(3, 32, in_channels=3).eval()
    ensemble = Ensemble([a, b]).eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        expected = (torch.log_softmax(a(x), 1) + torch.log_softmax(b(x), 1)) / 2
        assert torch.allclose(ensemble(x), expected, atol=1e-6)
    assert ensemble.config['n_classes'] == 3 and ensemble.config['in_channels'] == 3
    assert isinstance(network_from_config(ensemble.config), Ensemble)
    assert isinstance(network_from_config(a.config), ConvNet)
    settings = FingerprintSettings(pixels=32, orientation='standard', channels=3)
    model = Classifier(ensemble, ['x', 'y', 'z'], settings)
    model.save(tmp_path / 'ensemble.safetensors')
    again = Classifier.load(tmp_path / 'ensemble.safetensors')
    images = np.random.default_rng(0).random((5, 3, 32, 32), dtype=np.float32)
    assert isinstance(again.net, Ensemble) and np.allclose(again.logits(images), model.logits(images), atol=1e-5)
    with pytest.raises(ValueError, match='at least two'):
        Ensemble([a])
    with pytest.raises(ValueError, match='must share'):
        Ensemble([a, ConvNet(4, 32, in_channels=3)])


def test_ensemble_arithmetic_combination(tmp_path):
    """The arithmetic ensemble is the log of the members' mean probability and survives a save and load."""
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml import Classifier
    from aiida_crystalface.ml.convnet import Ensemble

    torch.manual_seed(1)
    a, b = ConvNet(3, 32, in_channels=3).eval(), ConvNet(3, 32, in_channels=3).eval()
    mixture = Ensemble([a, b], combine='arithmetic').eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        expected = torch.log((torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2)
        assert torch.allclose(mixture(x), expected, atol=1e-6)
    assert mixture.config['combine'] == 'arithmetic' and 'combine' not in Ensemble([a, b]).config
    settings = FingerprintSettings(pixels=32, orientation='standard', channels=3)
    Classifier(mixture, ['x', 'y', 'z'], settings).save(tmp_path / 'mixture.safetensors')
    again = Classifier.load(tmp_path / 'mixture.safetensors')
    assert again.net.combine == 'arithmetic'
    with torch.no_grad():
        assert torch.allclose(again.net(x), mixture(x), atol=1e-3)  # float16 weights on disk
    with pytest.raises(ValueError, match='combine'):
        Ensemble([a, b], combine='median')
