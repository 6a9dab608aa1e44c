"""The converter of released checkpoints drops nothing without a word, maps no
two released tensors onto one, and refuses a checkpoint trained with a setting
the model cannot represent."""
import pytest
import torch

from sgdetr.engine.official_checkpoint import sgdetr_to_official_key
from sgdetr.registry import MODELS

from reliability_utils import load_tool, tiny_cfg, write_tiny_config

TEXT_POSITIONS = 'txt_position_embed.position_embeddings.weight'


@pytest.fixture(scope='module')
def released(shared_data, tmp_path_factory):
    """(config path, released-style state dict without prefix) of the tiny model."""
    root = tmp_path_factory.mktemp('converter')
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(shared_data, root).model)
    state = {sgdetr_to_official_key(k): v for k, v in model.state_dict().items()}
    state[TEXT_POSITIONS] = torch.zeros(100, 16)
    return write_tiny_config(root / 'tiny.py', shared_data), state


def convert(tmp_path, config, checkpoint, *options):
    src, dst = tmp_path / 'released.ckpt', tmp_path / 'converted.pth'
    torch.save(checkpoint, src)
    load_tool('model_converters/official_to_sgdetr').main(
        [str(src), str(dst), '--config', str(config), *options])
    return src, dst


def test_tensors_outside_the_model_are_listed_and_an_ema_copy_is_chosen(released, tmp_path,
                                                                       capsys):
    config, state = released
    checkpoint = {'state_dict': {**{'model.' + k: v for k, v in state.items()},
                                 **{'ema_model.' + k: v + 1 for k, v in state.items()},
                                 'losses.empty_weight': torch.ones(2)}}
    _, dst = convert(tmp_path, config, checkpoint)
    printed = capsys.readouterr().out
    assert (f'ema_model. ({len(state)} tensors): another copy of the model (an EMA average?), '
            'not converted; convert it with --prefix ema_model.') in printed
    assert 'losses. (1 tensors, not of the model): losses.empty_weight' in printed
    name = 'modality_embeddings.weight'
    ours = torch.load(dst, weights_only=True)['state_dict']
    torch.testing.assert_close(ours['encoder.modality_embed.embedding.weight'], state[name])
    _, dst = convert(tmp_path, config, checkpoint, '--prefix', 'ema_model.')
    ours = torch.load(dst, weights_only=True)['state_dict']
    torch.testing.assert_close(ours['encoder.modality_embed.embedding.weight'], state[name] + 1)
    assert 'model. (' in capsys.readouterr().out


def test_two_released_tensors_onto_one_are_an_error(released, tmp_path):
    config, state = released
    original = next(k for k in state if '.self_attention.self_attn.' in k)
    twin = original.replace('.self_attention.self_attn.', '.self_attn.')
    checkpoint = {'state_dict': {'model.' + k: v for k, v in {**state, twin: state[original]}
                                 .items()}}
    with pytest.raises(SystemExit) as error:
        convert(tmp_path, config, checkpoint)
    assert f'{twin} -> ' in str(error.value)
    assert f': {original} maps onto it too' in str(error.value)
    assert not (tmp_path / 'converted.pth').exists()


def test_text_positions_follow_the_saved_hyper_parameters(released, tmp_path, capsys):
    config, state = released
    model = {'model.' + k: v for k, v in state.items()}
    with pytest.raises(SystemExit) as error:
        convert(tmp_path, config, {'state_dict': model, 'hyper_parameters': {
            'model': {'use_txt_pos': True, 'dropout': 0.1}}})
    assert ('the checkpoint was trained with settings this model cannot represent:\n'
            '  use_txt_pos=True: learned text positions (txt_position_embed)') in str(error.value)
    assert not (tmp_path / 'converted.pth').exists()
    convert(tmp_path, config, {'state_dict': model})
    assert ('the checkpoint does not record use_txt_pos: its text positions are left out, '
            'right for a model trained without them') in capsys.readouterr().out
    convert(tmp_path, config, {'state_dict': model,
                               'hyper_parameters': {'model': {'use_txt_pos': False}}})
    assert 'does not record use_txt_pos' not in capsys.readouterr().out
