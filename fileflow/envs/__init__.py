"""Software for jobs: conda environments and environment modules. Layer 3."""
