" fileflow Flowfiles: Flowfile, workflow/Flowfile, and included files named *.flow.
autocmd BufNewFile,BufRead Flowfile,*.flow set filetype=flowfile
