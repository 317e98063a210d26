# written by swap (src/report); run: gnuplot training.gp
set datafile separator ','
set datafile missing 'nan'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 800,760 font 'sans,10' noenhanced
} else {
  set terminal png size 800,760 noenhanced
}
set output '.training.png.tmp'
set grid
set multiplot layout 2,1 title "training curves: c100p-seed2/phase2.mode=independent"
set key outside right top
set lmargin 12
set rmargin 22
set xlabel 'epoch (phase 2 continues from phase 1''s last epoch, 20)'
set ylabel 'training loss (cross-entropy)'
set title 'training loss per epoch'
set xtics 1
set xrange [0.5:23.5]
plot 'training.csv' skip 1 using 4:($2 == -1 ? $5 : NaN) with linespoints pt 7 ps 1 lw 2 lc rgb 'black' title 'phase 1', \
     '' skip 1 using 4:($2 == 0 ? $5 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 1 title 'worker 0', \
     '' skip 1 using 4:($2 == 1 ? $5 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 2 title 'worker 1', \
     '' skip 1 using 4:($2 == 2 ? $5 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 3 title 'worker 2', \
     '' skip 1 using 4:($2 == 3 ? $5 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 4 title 'worker 3'
set ylabel 'training accuracy (%)'
set title 'training accuracy per epoch (running, with augmentation)'
plot 'training.csv' skip 1 using 4:($2 == -1 ? 100*$6 : NaN) with linespoints pt 7 ps 1 lw 2 lc rgb 'black' title 'phase 1', \
     '' skip 1 using 4:($2 == 0 ? 100*$6 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 1 title 'worker 0', \
     '' skip 1 using 4:($2 == 1 ? 100*$6 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 2 title 'worker 1', \
     '' skip 1 using 4:($2 == 2 ? 100*$6 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 3 title 'worker 2', \
     '' skip 1 using 4:($2 == 3 ? 100*$6 : NaN) with linespoints pt 7 ps 1 lw 1.5 lc 4 title 'worker 3'
unset multiplot
