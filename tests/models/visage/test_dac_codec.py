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
