"""GalaxAlign (tri-modal CLIP fine-tuning with galaxy images, text and schematic symbols) as a
bench method, with every ablation of the paper's Table 4 and a zero-shot reference.

Modules: prompts (text), symbols (schematic drawings), loss (the multi-positive alternative to CLIP's
loss), model (the two backbones and the symbol encoder), recipe (hyperparameters), variants (stage
plans), stages (one stage on the shared training loop), plugin (the Method), cli (`bench symbols`).
What every CLIP method shares (open_clip build and weights, embeddings, CLIP's loss, the contrastive
call of the loop, checkpoints) is methods/clip's.
"""
