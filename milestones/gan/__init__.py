"""GAN (Goodfellow et al. 2014, arXiv:1406.2661) and DCGAN (Radford, Metz & Chintala 2015,
arXiv:1511.06434), from torch primitives.

    from milestones.gan import gan_mnist, dcgan64, discriminator_loss, generator_loss
    model = dcgan64()                      # Fig. 1: G 100 -> 4x4x1024 -> ... -> 64x64x3
    images = model.sample(64)              # (64, 3, 64, 64) in [-1, 1]
    logits = model.discriminator(images)   # (64,): D(x) = sigmoid(logit)
    loss_d = discriminator_loss(real_logits, fake_logits)   # -V(D, G), Eq. 1
    loss_g = generator_loss(fake_logits)                    # -log D(G(z)), §3
"""

from milestones.gan.model import (
    GAN,
    MODELS,
    DCGANDiscriminator,
    DCGANGenerator,
    Maxout,
    MaxoutDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
    dcgan,
    dcgan28,
    dcgan32,
    dcgan64,
    dcgan_mlp,
    dcgan_tiny,
    discriminator_loss,
    gan_mlp,
    gan_mnist,
    gan_tiny,
    generator_loss,
    init_dcgan,
    init_gan,
    value_function,
)

__all__ = [
    "GAN", "MODELS", "DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator",
    "Maxout", "MaxoutDiscriminator", "dcgan", "dcgan28", "dcgan32", "dcgan64", "dcgan_mlp",
    "dcgan_tiny", "discriminator_loss", "gan_mlp", "gan_mnist", "gan_tiny", "generator_loss",
    "init_dcgan", "init_gan", "value_function",
]
