"""The encoder's modules: projections, positions, pooling, saliency, SGCA, context, GSM, tokens."""
import math

import pytest
import torch
from torch.nn import functional as F

from model_test_utils import (assert_gradients_reach, fill_padding, length_mask,
                              without_drop_path)
from sgdetr.models.encoders import (SALIENCY_PADDING_VALUE, GlobalSaliencyModule,
                                    InputProjection, LearnedAggregationPooling,
                                    LocalSaliencyHead, ModalityEmbedding, MomentTokenEncoder,
                                    SaliencyGuidedCrossAttention, SentenceTokenEncoder,
                                    TextToVideoEncoder, VideoContextEncoder)
from sgdetr.models.layers import SinePositionalEncoding1D, sine_span_embedding
from sgdetr.registry import MODELS

H = 16
HEADS = 4


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


# -- input projection, modality, positions ---------------------------------------
def test_input_projection_blocks_and_token_independence():
    torch.manual_seed(0)
    proj = MODELS.build(dict(type='InputProjection', in_channels=12, out_channels=H,
                             num_layers=2, dropout=0.5))
    kinds = [type(m).__name__ for m in proj.layers]
    assert kinds == ['LayerNorm', 'Dropout', 'Linear', 'ReLU', 'LayerNorm', 'Dropout', 'Linear']
    assert proj.layers[0].normalized_shape == (12, ) and proj.layers[4].normalized_shape == (H, )
    x = torch.randn(2, 5, 12)
    proj.eval()
    out = proj(x)
    assert out.shape == (2, 5, H)
    close(out[1, 2:3], proj(x[1:, 2:3])[0])  # tokens are independent
    proj.train()
    assert not torch.allclose(proj(x), proj(x))  # dropout on the inputs
    assert_gradients_reach(proj, proj(x).pow(2).sum())
    assert len(InputProjection(12, H, num_layers=3).layers) == 11


def test_modality_embedding_adds_one_vector_per_modality():
    embed = ModalityEmbedding(H)
    text, video = torch.randn(2, 3, H), torch.randn(2, 5, H)
    text_out, video_out = embed(text, video)
    close(text_out - text, embed.embedding.weight[0].expand(2, 3, H))
    close(video_out - video, embed.embedding.weight[1].expand(2, 5, H))
    assert_gradients_reach(embed, text_out.sum() + 2 * video_out.sum())


def test_sine_positional_encoding_values_and_padding():
    encoding = SinePositionalEncoding1D(num_feats=4, temperature=100.0, normalize=True)
    mask = length_mask([4, 2], total=4)
    pos = encoding(mask)
    assert pos.shape == (2, 4, 4)
    for b, n in ((0, 4), (1, 2)):
        for i in range(n):
            angle = (i + 1) / n * 2 * math.pi
            expected = torch.tensor([math.sin(angle), math.cos(angle),
                                     math.sin(angle / 10), math.cos(angle / 10)])
            close(pos[b, i], expected, atol=1e-4)
    assert (pos[1, 2:] == 0).all()
    # a real clip's encoding does not depend on the padding after it
    close(encoding(length_mask([2], total=7))[0, :2], pos[1, :2])
    unnormalised = SinePositionalEncoding1D(num_feats=4, temperature=100.0, normalize=False)
    close(unnormalised(mask)[0, 2], torch.tensor([math.sin(3), math.cos(3),
                                                  math.sin(0.3), math.cos(0.3)]))
    with pytest.raises(AssertionError):
        SinePositionalEncoding1D(num_feats=5)


def test_sine_span_embedding_of_a_known_span():
    # embed_dims 8: 4 channels per coordinate, frequencies 1, 1, 1/100, 1/100
    # (temperature 10000 ** (2 * floor(i / 2) / 4)), sin/cos interleaved.
    embed = sine_span_embedding(torch.tensor([0.25, 0.5]), embed_dims=8)
    c, w = 2 * math.pi * 0.25, 2 * math.pi * 0.5
    expected = torch.tensor([math.sin(c), math.cos(c), math.sin(c / 100), math.cos(c / 100),
                             math.sin(w), math.cos(w), math.sin(w / 100), math.cos(w / 100)])
    close(embed, expected)
    batched = sine_span_embedding(torch.rand(3, 5, 2), embed_dims=H)
    assert batched.shape == (3, 5, H)
    assert sine_span_embedding(torch.rand(2, 2).half(), 8).dtype == torch.float16


# -- sentence pooling and local saliency -------------------------------------------
def test_learned_aggregation_pooling_padding_batch_and_gradients():
    torch.manual_seed(0)
    pooling = LearnedAggregationPooling(H, num_layers=2, num_heads=HEADS)
    assert len(pooling.layers) == 2
    close(pooling.layers[0].attn.out_proj.weight, pooling.layers[1].attn.out_proj.weight)
    tokens = torch.randn(3, 6, H)
    mask = length_mask([6, 2, 4])
    pooling.train()
    assert_gradients_reach(pooling, pooling(tokens, mask).pow(2).sum())
    pooling.eval()
    out = pooling(tokens, mask)
    assert out.shape == (3, H)
    close(out, pooling(fill_padding(tokens, mask), mask))
    close(out[1], pooling(tokens[1:2, :2], mask[1:2, :2])[0])
    # the tokens matter, and so does their number
    assert not torch.allclose(out[0], pooling(tokens[:1], length_mask([5], total=6))[0])


def test_mean_initialised_pooling_starts_at_the_normed_mean():
    torch.manual_seed(0)
    tokens, mask = torch.randn(2, 5, H), length_mask([5, 3])
    one = LearnedAggregationPooling(H, num_layers=1, num_heads=HEADS, mean_init=True).eval()
    norm = one.layers[0].token_norm
    mean = (norm(tokens) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    close(one(tokens, mask), mean)
    # with two layers, the first one starts at the mean
    two = LearnedAggregationPooling(H, num_layers=2, num_heads=HEADS, mean_init=True).eval()
    first = two.layers[0](two.query.expand(2, 1, -1), tokens, mask)[:, 0]
    close(first, (two.layers[0].token_norm(tokens) * mask[..., None]).sum(1)
          / mask.sum(1, keepdim=True))


def test_local_saliency_is_scaled_cosine_plus_bias():
    torch.manual_seed(0)
    head = LocalSaliencyHead(H, pooling=dict(type='LearnedAggregationPooling', num_layers=2,
                                             num_heads=HEADS), log_scale_init=3.0)
    assert head.log_scale.item() == 3.0 and head.bias.item() == 0.0
    with torch.no_grad():
        head.log_scale.fill_(0.7)
        head.bias.fill_(-0.4)
    head.eval()
    clips, words = torch.randn(2, 5, H), torch.randn(2, 4, H)
    video_mask, text_mask = length_mask([5, 3]), length_mask([4, 2])
    saliency, sentence = head(clips, video_mask, words, text_mask)
    close(sentence, head.pooling(words, text_mask))
    cosine = F.cosine_similarity(clips, sentence[:, None], dim=-1)
    expected = cosine * math.exp(0.7) - 0.4
    close(saliency[video_mask], expected[video_mask])
    assert (saliency[~video_mask] == SALIENCY_PADDING_VALUE).all()
    # padded tokens and padded clips change nothing
    again, _ = head(fill_padding(clips, video_mask), video_mask,
                    fill_padding(words, text_mask), text_mask)
    close(again, saliency)
    # the scale of the clip features does not matter (cosine)
    close(head.score(3 * clips, sentence), head.score(clips, sentence))
    head.train()
    assert_gradients_reach(head, head(clips, video_mask, words, text_mask)[0][video_mask].sum())


# -- saliency-guided cross attention -------------------------------------------------
def sgca_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(video=torch.randn(2, 5, H, generator=g), pos=torch.randn(2, 5, H, generator=g),
                text=torch.randn(2, 4, H, generator=g), text_mask=length_mask([4, 2]),
                saliency=torch.randn(2, 5, generator=g))


def test_sgca_zero_saliency_weight_removes_the_attention_term():
    torch.manual_seed(0)
    layer = SaliencyGuidedCrossAttention(H, HEADS, drop_path=0.15).eval()
    x = sgca_inputs()
    x['saliency'][0, 1] = SALIENCY_PADDING_VALUE  # sigmoid -> 0
    out = layer(**x)
    # row weight 0: the attention output is out_proj(0), the bias
    plain = x['video'][0, 1] + layer.attn.out_proj.bias
    close(out[0, 1], layer.norm2(plain + layer.norm1(layer.ffn(plain))))
    # and then the text does not matter for that clip
    other = layer(**dict(x, text=torch.randn(2, 4, H)))
    close(other[0, 1], out[0, 1])
    assert not torch.allclose(other[0, 0], out[0, 0])


def test_sgca_weights_each_row_by_its_saliency():
    torch.manual_seed(0)
    layer = SaliencyGuidedCrossAttention(H, HEADS).eval()
    x = sgca_inputs()
    weights = x['saliency'].sigmoid()
    attended = layer.attn(x['video'] + x['pos'], x['text'], x['text'], key_mask=x['text_mask'],
                          row_weights=weights)
    plain = x['video'] + attended
    close(layer(**x), layer.norm2(plain + layer.norm1(layer.ffn(plain))))
    # clips are independent queries: a clip alone gives the same output
    alone = layer(**dict(x, video=x['video'][:, 2:3], pos=x['pos'][:, 2:3],
                         saliency=x['saliency'][:, 2:3]))
    close(alone[:, 0], layer(**x)[:, 2])
    # padded tokens do not matter
    noisy = layer(**dict(x, text=fill_padding(x['text'], x['text_mask'])))
    close(noisy, layer(**x))


def test_sgca_unguided_ignores_saliency():
    torch.manual_seed(0)
    guided = SaliencyGuidedCrossAttention(H, HEADS).eval()
    plain = SaliencyGuidedCrossAttention(H, HEADS, saliency_guided=False).eval()
    plain.load_state_dict(guided.state_dict())
    x = sgca_inputs()
    out = plain(**x)
    close(out, plain(**dict(x, saliency=-x['saliency'])))
    close(out, plain(**dict(x, saliency=None)))
    # plain cross attention is SGCA with every weight 1
    close(out, guided(**dict(x, saliency=torch.full_like(x['saliency'], 1e4))))
    assert not torch.allclose(guided(**x), out)


def test_sgca_gradients_reach_every_parameter():
    torch.manual_seed(0)
    layer = without_drop_path(SaliencyGuidedCrossAttention(H, HEADS)).train()
    x = sgca_inputs()
    x['saliency'].requires_grad_(True)
    assert_gradients_reach(layer, layer(**x).pow(2).sum())
    assert x['saliency'].grad.abs().sum() > 0


def test_text_to_video_encoder_shares_one_norm_over_video_and_text():
    torch.manual_seed(0)
    encoder = TextToVideoEncoder(H, num_layers=2, layer=dict(
        type='SaliencyGuidedCrossAttention', num_heads=HEADS)).eval()
    assert len(encoder.layers) == 2
    assert sum(1 for n, _ in encoder.named_modules() if n.endswith('norm')) == 1
    x = sgca_inputs()
    video, text = x['video'], x['text']
    for layer in encoder.layers:  # every layer reads the normed text of the previous one
        video = layer(video, x['pos'], text, x['text_mask'], x['saliency'])
        video, text = encoder.norm(video), encoder.norm(text)
    close(encoder(**x), encoder.norm(video))
    noisy = encoder(**dict(x, text=fill_padding(x['text'], x['text_mask'])))
    close(noisy, encoder(**x))
    without_drop_path(encoder).train()
    assert_gradients_reach(encoder, encoder(**x).pow(2).sum())


# -- context encoder and global saliency ------------------------------------------------
def test_video_context_encoder_masking_and_batch_independence():
    torch.manual_seed(0)
    encoder = VideoContextEncoder(H, num_layers=3, num_heads=HEADS)
    assert len(encoder.layers) == 3
    video, pos = torch.randn(2, 8, H), torch.randn(2, 8, H)
    mask = length_mask([8, 5])
    without_drop_path(encoder).train()
    assert_gradients_reach(encoder, encoder(video, pos, mask)[mask].pow(2).sum())
    encoder.eval()
    out = encoder(video, pos, mask)
    close(out[mask], encoder(fill_padding(video, mask), fill_padding(pos, mask), mask)[mask])
    close(out[1, :5], encoder(video[1:, :5], pos[1:, :5], mask[1:, :5])[0])
    # clips see each other
    changed = video.clone()
    changed[0, 0] += 1
    assert not torch.allclose(encoder(changed, pos, mask)[0, 3], out[0, 3])


def test_global_saliency_starts_at_the_local_saliency():
    torch.manual_seed(0)
    gsm = GlobalSaliencyModule(H)
    context, local = torch.randn(2, 6, H), torch.randn(2, 6)
    mask = length_mask([6, 4])
    local = local.masked_fill(~mask, SALIENCY_PADDING_VALUE)
    memory, saliency = gsm(context, local, mask)
    close(saliency[mask], local[mask])
    assert (saliency[~mask] == SALIENCY_PADDING_VALUE).all()
    close(memory, context + context * local.sigmoid()[..., None])


def test_global_saliency_rescoring_formula_and_gradients():
    torch.manual_seed(0)
    gsm = randomise_offset(GlobalSaliencyModule(H))
    context, local = torch.randn(2, 6, H), torch.randn(2, 6)
    mask = length_mask([6, 4])
    memory, saliency = gsm(context, local, mask)
    amplified = context + context * local.sigmoid()[..., None]
    expected = local + gsm.offset(amplified)[..., 0]
    close(saliency[mask], expected[mask])
    assert (saliency[~mask] == SALIENCY_PADDING_VALUE).all()
    close(memory[mask], (context + context * expected.sigmoid()[..., None])[mask])
    assert_gradients_reach(gsm, saliency[mask].sum() + memory.sum())


def randomise_offset(gsm):
    with torch.no_grad():
        gsm.offset.weight.normal_()
        gsm.offset.bias.normal_()
    return gsm


def test_disabled_global_saliency():
    gsm = GlobalSaliencyModule(H, enabled=False)
    assert not list(gsm.parameters()) and gsm.offset is None
    context, local = torch.randn(2, 6, H), torch.randn(2, 6)
    memory, saliency = gsm(context, local, length_mask([6, 4]))
    assert saliency is None
    close(memory, GlobalSaliencyModule.amplify(context, local))


# -- token encoders ----------------------------------------------------------------------
def test_sentence_token_encoder_padding_and_batch():
    torch.manual_seed(0)
    encoder = SentenceTokenEncoder(H, num_layers=1, num_heads=HEADS)
    text, mask = torch.randn(3, 5, H), length_mask([5, 2, 3])
    without_drop_path(encoder).train()
    assert_gradients_reach(encoder, encoder(text, mask).pow(2).sum())
    encoder.eval()
    out = encoder(text, mask)
    assert out.shape == (3, H)
    close(out, encoder(fill_padding(text, mask), mask))
    close(out[1], encoder(text[1:2, :2], mask[1:2, :2])[0])


def test_moment_token_encoder_separates_moment_and_other_clips():
    torch.manual_seed(0)
    encoder = MomentTokenEncoder(H, num_layers=1, num_heads=HEADS)
    video, pos = torch.randn(2, 8, H), torch.randn(2, 8, H)
    mask = length_mask([8, 6])
    in_moment = torch.zeros(2, 8, dtype=torch.bool)
    in_moment[0, 2:5] = in_moment[1, 1:3] = True
    in_moment[1, 7] = True  # in a padded clip: ignored
    without_drop_path(encoder).train()
    moment, other, clips = encoder(video, pos, mask, in_moment)
    assert_gradients_reach(encoder, moment.sum() + other.sum() + clips.pow(2).sum())
    encoder.eval()
    moment, other, clips = encoder(video, pos, mask, in_moment)
    assert moment.shape == other.shape == (2, H) and clips.shape == (2, 8, H)
    assert (clips[1, 6:] == 0).all() and (clips[1, :6] != 0).any()
    inside, outside = in_moment & mask, ~in_moment & mask
    moved = video + torch.randn(2, 8, H) * (~inside)[..., None]  # every clip but the moment
    moment2, other2, clips2 = encoder(moved, pos, mask, in_moment)
    close(moment2, moment)
    close(clips2[inside], clips[inside])
    assert not torch.allclose(other2, other)
    moved = video + torch.randn(2, 8, H) * (~outside)[..., None]
    moment3, other3, clips3 = encoder(moved, pos, mask, in_moment)
    close(other3, other)
    close(clips3[outside], clips[outside])
    # a sample alone gives the same tokens
    alone = encoder(video[1:, :6], pos[1:, :6], mask[1:, :6], in_moment[1:, :6])
    close(alone[0][0], moment[1])
    close(alone[1][0], other[1])
    close(alone[2][0], clips[1, :6])
