"""DAC decoding: each channel's nine codebooks decoded on its own, W, Y, Z, X in order."""

import torch
from visage_fixtures import tiny_dac

from models.visage.dac_codec import DacDecoder


def test_431_frames_decode_to_220672_samples_on_four_channels_in_order() -> None:
    dac = tiny_dac()
    decoder = DacDecoder(dac, num_rvq=9)
    codes = torch.randint(0, 1024, (2, 431, 36))
    audio = decoder.decode(codes)
    assert audio.shape == (2, 4, 220_672)
    assert audio.dtype == torch.float32
    for channel in range(4):  # channel c is the decode of streams 9c … 9c + 8 alone
        alone = dac.decode(audio_codes=codes[:, :, 9 * channel : 9 * channel + 9].transpose(1, 2))
        torch.testing.assert_close(audio[:, channel], alone.audio_values.reshape(2, -1))
    assert not torch.allclose(audio[:, 0], audio[:, 1])


def test_encoding_gives_each_channels_codes_where_decoding_takes_them() -> None:
    dac = tiny_dac()
    coder = DacDecoder(dac, num_rvq=9)
    audio = torch.randn(1, 4, 20 * 512)
    codes = coder.encode(audio)
    assert codes.shape == (1, 20, 36)
    for channel in range(4):  # streams 9c … 9c + 8 are channel c's first nine codebooks
        alone = dac.encode(audio[:, channel : channel + 1], n_quantizers=9).audio_codes
        assert torch.equal(codes[:, :, 9 * channel : 9 * channel + 9], alone[:, :9].transpose(1, 2))
    assert not torch.equal(codes[:, :, :9], codes[:, :, 9:18])
