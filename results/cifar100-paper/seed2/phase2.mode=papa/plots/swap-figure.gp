# written by swap (src/report); run: gnuplot swap-figure.gp
set datafile separator ','
set datafile missing 'nan'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 800,760 font 'sans,10' noenhanced
} else {
  set terminal png size 800,760 noenhanced
}
set output '.swap-figure.png.tmp'
set grid
set multiplot layout 2,1 title "SWAP: c100p-seed2/phase2.mode=papa"
set key outside right top
set lmargin 12
set rmargin 22
set xlabel 'wall-clock time (s)'
set xrange [0:3207.3]
set yrange [0:*]
set offsets 0, 0, graph 0.06, 0
set ylabel 'learning rate'
set title 'learning rate (phase 1: one data-parallel model; phase 2: one trace per worker)'
plot 'swap-figure-lr.csv' skip 1 using 3:($2 == -1 ? $4 : NaN) with lines lw 2 lc rgb 'black' title 'phase 1', \
     '' skip 1 using 3:($2 == 0 ? $4 : NaN) with lines lw 1.5 lc 1 title 'worker 0', \
     '' skip 1 using 3:($2 == 1 ? $4 : NaN) with lines lw 1.5 lc 2 title 'worker 1', \
     '' skip 1 using 3:($2 == 2 ? $4 : NaN) with lines lw 1.5 lc 3 title 'worker 2', \
     '' skip 1 using 3:($2 == 3 ? $4 : NaN) with lines lw 1.5 lc 4 title 'worker 3'
set ylabel 'test accuracy (%)'
set yrange [*:*]
set offsets 0, 0, graph 0.06, graph 0.06
set title 'test accuracy'
plot 'swap-figure.csv' skip 1 using 4:($2 == -1 ? 100*$6 : NaN) with linespoints pt 7 ps 0.6 lw 2 lc rgb 'black' title 'phase 1', \
     '' skip 1 using 4:($2 == 0 ? 100*$6 : NaN) with linespoints pt 7 ps 0.6 lw 1.5 lc 1 title 'worker 0', \
     '' skip 1 using 4:($2 == 1 ? 100*$6 : NaN) with linespoints pt 7 ps 0.6 lw 1.5 lc 2 title 'worker 1', \
     '' skip 1 using 4:($2 == 2 ? 100*$6 : NaN) with linespoints pt 7 ps 0.6 lw 1.5 lc 3 title 'worker 2', \
     '' skip 1 using 4:($2 == 3 ? 100*$6 : NaN) with linespoints pt 7 ps 0.6 lw 1.5 lc 4 title 'worker 3', \
     'swap-figure-markers.csv' skip 1 using 3:(strcol(1) eq 'average' ? 100*$4 : NaN) with points pt 7 ps 2.2 lc rgb 'red' title 'SWAP average', \
     '' skip 1 using 3:(strcol(1) eq 'ensemble' ? 100*$4 : NaN) with points pt 9 ps 2 lc rgb 'dark-green' title 'ensemble', \
     'swap-figure-markers.csv' skip 1 using 3:(strcol(1)[1:9] eq 'baseline-' ? 100*$4 : NaN) with points pt 5 ps 1.8 lc rgb 'blue' title 'baselines (own time)', \
     '' skip 1 using 3:(strcol(1)[1:9] eq 'baseline-' ? 100*$4 : NaN):(strcol(1)[10:]) with labels offset char 0,1 notitle
unset multiplot
