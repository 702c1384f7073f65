#!/usr/bin/env node
/**
 * Writes tiny data sets in each publisher's layout under packages/datasets/fixtures/convert/, for the
 * tests of `mats-data convert` (src/convert/convert.test.ts). Deterministic: run it again and nothing
 * changes. Usage: node packages/datasets/tools/make-convert-fixtures.mjs
 * Audio files (where the layout is the file names themselves) are 4-sample 16-bit mono WAVs.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'convert');
rmSync(out, { recursive: true, force: true });

function write(rel, text) {
  const path = join(out, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function wav(rel) {
  const samples = 4;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + samples * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16000, 24); b.writeUInt32LE(32000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) b.writeInt16LE((i - 2) * 1000, 44 + i * 2);
  const path = join(out, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, b);
}

// ---- captioning ----
write('clotho/clotho_captions_development.csv', [
  'file_name,caption_1,caption_2,caption_3,caption_4,caption_5',
  'rain on roof.wav,Rain falls on a tin roof.,Heavy rain hits a roof.,Rain drums on metal.,Water pours onto a roof.,A steady rain on a roof.',
  '"birds, morning.wav",Birds chirp at dawn.,"Many birds sing, loudly.",Birds call in the trees.,Small birds tweet.,Morning birdsong.',
  '',
].join('\n'));
wav('clotho/development/rain on roof.wav');
wav('clotho/development/birds, morning.wav');

write('audiocaps/train.csv', [
  'audiocap_id,youtube_id,start_time,caption',
  '91139,r1nicOVtvkQ,130,A woman talks nearby as water pours',
  '58146,UDGBjjwyaqE,20,Multiple clanging and clanking sounds',
  '11542,7fmOlUlwoNg,20,A dog barks then a man speaks',
  '',
].join('\n'));
write('audiocaps/val.csv', [
  'audiocap_id,youtube_id,start_time,caption',
  '97151,vfY_TJq7n_U,130,Rustling occurs then a toilet flushes',
  '97152,vfY_TJq7n_U,130,Someone flushes a toilet',
  '',
].join('\n'));

write('musiccaps/musiccaps-public.csv', [
  'ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval',
  `-0Gj8-vB1q4,30,40,"/m/0140xf,/m/02cjck","['low quality', 'sustained strings melody']","The low quality recording features a string melody.",4,False,True`,
  `-0SdAVK79lg,30,40,/m/0155w,"['guitar song', ""80's pop""]","This song features an electric guitar, played in 80's pop style.",0,False,False`,
  `-0vPFx-wRRI,30,40,/m/025_jnm,"['amateur recording']",A male vocalist sings over a piano.,6,True,False`,
  '',
].join('\n'));

write('wavcaps/json_files/FreeSound/fsd_final.json', JSON.stringify({ num_captions_per_audio: 1, data: [
  { id: '180913', file_name: 'UK Mello.wav', href: '/people/Tempouser/sounds/180913/', caption: 'A bell rings in a church tower.', author: 'Tempouser', duration: 3.0 },
  { id: 7740, file_name: 'door.wav', caption: 'A door creaks open and closes.', duration: 2.5 },
] }, null, 1));
write('wavcaps/json_files/AudioSet_SL/as_final.json', JSON.stringify({ num_captions_per_audio: 1, data: [
  { id: 'Yb0RFKhbpFJA.wav', caption: 'Wind blows and leaves rustle.', audio: 'wav_path', duration: 10.0 },
  { id: 'YJZloTOdIY_c.wav', caption: 'A car engine revs.', audio: 'wav_path', duration: 10.0 },
] }, null, 1));
write('wavcaps/json_files/SoundBible/sb_final.json', JSON.stringify({ num_captions_per_audio: 1, data: [
  { id: '1111', caption: 'Thunder rumbles far away.', duration: 5.0 },
  { id: '1112', title: 'no caption here', duration: 5.0 },
] }, null, 1));

write('macs/MACS.yaml', [
  'files:',
  '- annotations:',
  '  - annotator_id: 133',
  '    sentence: adults talking and footsteps in a big hall',
  '    tags:',
  '    - adults_talking',
  '    - footsteps',
  '  - annotator_id: 30',
  '    sentence: people walk and talk in a station',
  '    tags:',
  '    - adults_talking',
  '  - annotator_id: 21',
  '    sentence: an announcement echoes over footsteps',
  '    tags:',
  '    - announcement',
  '  filename: airport-barcelona-0-0-a.wav',
  '- annotations:',
  '  - annotator_id: 5',
  '    sentence: birds singing and a car passing by',
  '    tags:',
  '    - birds_singing',
  '  - annotator_id: 7',
  '    sentence: a car drives past while birds sing',
  '    tags:',
  '    - car',
  '  filename: park-helsinki-241-7161-a.wav',
  '',
].join('\n'));

write('sdd/song_describer.csv', [
  'caption_id,track_id,caption,is_valid_subset,familiarity,artist_id,album_id,path,duration',
  '1,1000,A calm piano piece with soft strings.,True,0,10,20,00/1000.2min.mp3,120.0',
  '2,1000,"Gentle, slow piano music.",True,1,10,20,00/1000.2min.mp3,120.0',
  '3,2001,An upbeat rock song with loud drums.,False,2,11,21,01/2001.2min.mp3,120.0',
  '',
].join('\n'));

// ---- classification ----
write('esc50/meta/esc50.csv', [
  'filename,fold,target,category,esc10,src_file,take',
  '1-100032-A-0.wav,1,0,dog,True,100032,A',
  '1-100038-A-14.wav,1,14,chirping_birds,False,100038,A',
  '2-109505-A-10.wav,2,10,rain,True,109505,A',
  '5-9032-A-0.wav,5,0,dog,True,9032,A',
  '',
].join('\n'));
write('esc50/descriptions.json', JSON.stringify({
  dog: ['a dog barks several times', 'a small dog yaps'],
  chirping_birds: ['birds chirp in the trees'],
  Rain: 'rain falls steadily',
}, null, 1));
for (const f of ['1-100032-A-0.wav', '1-100038-A-14.wav', '2-109505-A-10.wav', '5-9032-A-0.wav']) wav(`esc50/audio/${f}`);

write('urbansound8k/metadata/UrbanSound8K.csv', [
  'slice_file_name,fsID,start,end,salience,fold,classID,class',
  '100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark',
  '100263-2-0-117.wav,100263,58.5,62.5,1,5,2,children_playing',
  '102305-6-0-0.wav,102305,0.0,2.61,1,1,6,gun_shot',
  '',
].join('\n'));

write('fsd50k/FSD50K.ground_truth/dev.csv', [
  'fname,labels,mids,split',
  '64760,"Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music","/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf",train',
  '16399,"Bass_guitar,Guitar","/m/018vs,/m/0342h",train',
  '16967,"Bark,Dog","/m/05tny_,/m/0bt9lr",val',
  '',
].join('\n'));
write('fsd50k/FSD50K.ground_truth/eval.csv', [
  'fname,labels,mids',
  '37199,"Walk_and_footsteps,Human_locomotion","/m/07pbtc8,/m/0bpl036"',
  '',
].join('\n'));

write('vggsound/vggsound.csv', [
  '---g-f_I2yQ,1,people marching,test',
  '--0PQM4-hqg,30,waterfall burbling,train',
  '--56QUhyDQM,185,"playing tennis, outdoors",train',
  '',
].join('\n'));

write('audioset/class_labels_indices.csv', [
  'index,mid,display_name',
  '0,/m/09x0r,"Speech"',
  '1,/m/05zppz,"Male speech, man speaking"',
  '2,/m/0bt9lr,"Dog"',
  '',
].join('\n'));
write('audioset/balanced_train_segments.csv', [
  '# Segments csv created Sun Mar  5 10:54:31 2017',
  '# num_ytids=3, num_segs=3, num_unique_labels=3, num_positive_labels=4',
  '# YTID, start_seconds, end_seconds, positive_labels',
  '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/m/05zppz"',
  '--ZhevVpy1s, 50.000, 60.000, "/m/0bt9lr"',
  '--aE2O5G5WE, 0.000, 10.000, "/m/xxxxx"',
  '',
].join('\n'));

write('tut2017/meta.txt', [
  'audio/a001_0_10.wav\tresidential_area\ta001',
  'audio/a001_10_20.wav\tresidential_area\ta001',
  'audio/b020_90_100.wav\tcafe/restaurant\tb020',
  '',
].join('\n'));
write('tut2017/evaluation_setup/fold1_train.txt', ['audio/a001_0_10.wav\tresidential_area', 'audio/b020_90_100.wav\tcafe/restaurant', ''].join('\n'));

write('dcase/meta.csv', [
  'filename\tscene_label\tidentifier\tsource_label',
  'audio/airport-barcelona-0-0-a.wav\tairport\tbarcelona-0\ta',
  'audio/metro_station-paris-1-30-b.wav\tmetro_station\tparis-1\tb',
  'audio/park-helsinki-241-7161-a.wav\tpark\thelsinki-241\ta',
  '',
].join('\n'));

for (const f of ['blues/blues.00000.wav', 'blues/blues.00001.wav', 'jazz/jazz.00000.wav']) wav(`gtzan/genres/${f}`);
for (const f of ['Bangu/bangu-01.wav', 'Naobo/naobo-01.wav']) wav(`bjo/${f}`);
for (const f of ['f0001_0_cough.wav', 'm0002_1_throatclearing.wav', 'f0003_0_laughter.wav', 'readme_notes.wav']) wav(`vocalsound/audio_16k/${f}`);
for (const f of ['1001_DFA_ANG_XX.wav', '1002_IEO_HAP_HI.wav']) wav(`cremad/AudioWAV/${f}`);
for (const f of ['Actor_01/03-01-05-01-02-01-01.wav', 'Actor_02/03-01-01-01-01-01-02.wav']) wav(`ravdess/${f}`);
for (const f of ['train/gunshot_001.wav', 'train/alarm_002.wav', 'test/casual_003.wav']) wav(`sesa/${f}`);

// ---- question answering ----
write('clothoaqa/clotho_aqa_train.csv', [
  'file_name,QuestionText,answer,confidence',
  'rain on roof.wav,Is it raining?,yes,yes',
  'rain on roof.wav,Is it raining?,yes,yes',
  'rain on roof.wav,Is it raining?,no,maybe',
  'rain on roof.wav,What is falling?,rain,yes',
  'rain on roof.wav,What is falling?,water,yes',
  'rain on roof.wav,What is falling?,rain,yes',
  'traffic.wav,Are there cars?,yes,yes',
  'traffic.wav,Are there cars?,yes,yes',
  'traffic.wav,Are there cars?,yes,yes',
  '',
].join('\n'));
write('clothoaqa/descriptions.json', JSON.stringify({ 'rain on roof.wav': ['Rain falls on a tin roof.', 'Heavy rain hits a roof.'] }, null, 1));

write('openaqa/openaqa_5.6M.json', JSON.stringify([
  { instruction: 'What is the sound event?', input: '', audio_id: '/data/sls/audioset/a.flac', dataset: 'as_strong_train', task: 'cla_label', output: 'Dog barking' },
  { instruction: 'Why might the dog bark?', input: '', audio_id: '/data/sls/audioset/a.flac', dataset: 'as_strong_train', task: 'open-ended question', output: 'It may be alerting its owner to a stranger.' },
  { instruction: 'Write an audio caption describing the sound.', input: '', audio_id: 'vggsound/b.flac', dataset: 'vggsound_train', task: 'caption', output: 'Water runs from a tap.' },
], null, 1));
write('openaqa/descriptions.json', JSON.stringify({ '/data/sls/audioset/a.flac': 'a dog barks at a door', 'vggsound/b.flac': 'water runs from a tap' }, null, 1));

write('musicqa/FinetuneMusicQA.json', JSON.stringify([
  { audio_name: 'song1.wav', conversation: [{ from: 'human', value: 'What instrument leads the song?' }, { from: 'gpt', value: 'The piano leads the song.' }, { from: 'human', value: 'Is it fast?' }, { from: 'gpt', value: 'No, it is slow.' }] },
  { audio_name: 'song2.wav', conversation: [{ from: 'human', value: 'What is the mood?' }, { from: 'gpt', value: 'It is cheerful.' }] },
], null, 1));
write('musicqa/descriptions.jsonl', [
  JSON.stringify({ key: 'song1.wav', descriptions: ['a slow piano ballad'] }),
  JSON.stringify({ key: 'song2.wav', descriptions: ['a cheerful ukulele tune'] }),
  '',
].join('\n'));

write('mmau/mmau-test-mini.json', JSON.stringify([
  { id: 'q1', audio_id: './test-mini-audios/q1.wav', question: 'Which animal is heard?', choices: ['dog', 'cat', 'cow', 'bird'], answer: 'dog', dataset: 'x', task: 'sound', split: 'test-mini', category: 'c', 'sub-category': 's', difficulty: 'easy' },
  { id: 'q2', audio_id: './test-mini-audios/q2.wav', question: 'Which instrument plays?', choices: ['piano', 'violin'], answer: 'violin', dataset: 'y', task: 'music', split: 'test-mini', category: 'c', 'sub-category': 's', difficulty: 'hard' },
], null, 1));
write('mmau/descriptions.json', JSON.stringify({ './test-mini-audios/q1.wav': 'a dog barks', './test-mini-audios/q2.wav': 'a violin plays a melody' }, null, 1));
console.log(`wrote fixtures under ${out}`);
